// libsndfile (Debian's libsndfile1), imported through pkg-config "sndfile":
// reading and writing WAV files in every PCM and float layout.
#include <sndfile.h>
