// ksguid.h: include first in the one translation unit that defines the KS
// GUIDs (the SDK runtime does; a miniport need not).
#include <wdm.h>
#define INITGUID
#pragma clang diagnostic ignored "-Wmissing-braces"  // STATIC_* values fill GUID flat, as in the WDK
#include <guiddef.h>
#undef DEFINE_GUIDEX
#define DEFINE_GUIDEX(name) EXTERN_C const GUID __attribute__((weak)) name = {STATICGUIDOF(name)}
#ifndef STATICGUIDOF
#define STATICGUIDOF(guid) STATIC_##guid
#endif
