// libsamplerate (Debian's libsamplerate0), through pkg-config "samplerate":
// the adaptive resampler that keeps a system-paced stream in step with a card.
#include <samplerate.h>
