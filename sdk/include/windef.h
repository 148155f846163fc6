// windef.h: the SDK puts what a WaveRT miniport needs from it in wdm.h.
#include <wdm.h>
