// See NewDelete.h. Every object of this driver comes from the pool with
// HDA_POOLTAG and goes back to it through these replacements.
#include "hda.h"

#pragma code_seg()

PVOID operator new(size_t iSize, POOL_FLAGS poolFlags, ULONG tag) { return ExAllocatePool2(poolFlags, iSize, tag); }

PVOID operator new(size_t iSize, POOL_FLAGS poolFlags) { return ExAllocatePool2(poolFlags, iSize, HDA_POOLTAG); }

void __cdecl operator delete(PVOID pVoid, ULONG tag) {
    if (pVoid) ExFreePoolWithTag(pVoid, tag);
}

void __cdecl operator delete(PVOID pVoid, size_t cbSize) {
    UNREFERENCED_PARAMETER(cbSize);
    if (pVoid) ExFreePoolWithTag(pVoid, HDA_POOLTAG);
}

void __cdecl operator delete[](PVOID pVoid, size_t cbSize) {
    UNREFERENCED_PARAMETER(cbSize);
    if (pVoid) ExFreePoolWithTag(pVoid, HDA_POOLTAG);
}

void __cdecl operator delete[](PVOID pVoid) {
    if (pVoid) ExFreePoolWithTag(pVoid, HDA_POOLTAG);
}
