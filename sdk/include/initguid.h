// initguid.h: DEFINE_GUID defines, from here on in this translation unit.
#define INITGUID
#include <guiddef.h>
