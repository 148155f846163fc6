// The driver's own operator new/delete, in the manner of SYSVAD's
// EndpointsCommon/NewDelete.h: placement new from pool with a tag, and the
// global deletes replaced by ExFreePoolWithTag (the driver defines
// _NEW_DELETE_OPERATORS_, so portcls.h supplies none).
#pragma once

PVOID operator new(size_t iSize, POOL_FLAGS poolFlags, ULONG tag);
PVOID operator new(size_t iSize, POOL_FLAGS poolFlags);
void __cdecl operator delete(PVOID pVoid, ULONG tag);
void __cdecl operator delete(_Pre_maybenull_ __drv_freesMem(Mem) PVOID pVoid, _In_ size_t cbSize);
void __cdecl operator delete[](_Pre_maybenull_ __drv_freesMem(Mem) PVOID pVoid, _In_ size_t cbSize);
void __cdecl operator delete[](_Pre_maybenull_ __drv_freesMem(Mem) PVOID pVoid);
