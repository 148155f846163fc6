// punknown.h: kernel-mode IUnknown (see unknown.h).
#include <unknown.h>
