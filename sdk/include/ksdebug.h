// ksdebug.h: the KS samples' debug-print macros, over DbgPrint.
#ifndef WAVERT_SDK_KSDEBUG_H
#define WAVERT_SDK_KSDEBUG_H
#include <wdm.h>
#define DEBUGLVL_BLAB 3
#define DEBUGLVL_VERBOSE 2
#define DEBUGLVL_TERSE 1
#define DEBUGLVL_ERROR 0
#ifndef DEBUG_LEVEL
#define DEBUG_LEVEL DEBUGLVL_TERSE
#endif
#if DBG
#define _DbgPrintF(lvl, strings)                                          \
    do {                                                                  \
        if ((lvl) <= DEBUG_LEVEL) {                                       \
            DbgPrint(STR_MODULENAME);                                     \
            DbgPrint strings;                                             \
            DbgPrint("\n");                                               \
        }                                                                 \
    } while (0)
#else
#define _DbgPrintF(lvl, strings) ((void)0)
#endif
#ifndef STR_MODULENAME
#define STR_MODULENAME "wavert: "
#endif
#endif
