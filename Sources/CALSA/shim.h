// The ALSA library (libasound2), imported through pkg-config "alsa".
// Only the PCM and configuration APIs are used.
#include <alsa/asoundlib.h>
