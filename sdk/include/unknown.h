// unknown.h: kernel-mode COM (IUnknown whose QueryInterface returns NTSTATUS)
// and the interface-declaration macros, C++ branch.
#ifndef WAVERT_SDK_UNKNOWN_H
#define WAVERT_SDK_UNKNOWN_H
#include <wdm.h>

#ifndef __cplusplus
#error "PortCls interfaces are C++: compile miniports as C++ (clang++)."
#endif

#define interface struct
#define PURE = 0
#define THIS_
#define THIS void
#define STDMETHOD(method) virtual NTSTATUS STDMETHODCALLTYPE method
#define STDMETHOD_(type, method) virtual type STDMETHODCALLTYPE method
#define STDMETHODV(method) virtual NTSTATUS STDMETHODVCALLTYPE method
#define STDMETHODV_(type, method) virtual type STDMETHODVCALLTYPE method
#define STDMETHODIMP NTSTATUS STDMETHODCALLTYPE
#define STDMETHODIMP_(type) type STDMETHODCALLTYPE
#define STDMETHODIMPV NTSTATUS STDMETHODVCALLTYPE
#define STDMETHODIMPV_(type) type STDMETHODVCALLTYPE
#define DECLARE_INTERFACE(iface) interface DECLSPEC_NOVTABLE iface
#define DECLARE_INTERFACE_(iface, baseiface) interface DECLSPEC_NOVTABLE iface : public baseiface

DEFINE_GUID(IID_IUnknown, 0x00000000L, 0x0000, 0x0000, 0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46);

#define DEFINE_ABSTRACT_UNKNOWN()                                                          \
    STDMETHOD_(NTSTATUS, QueryInterface)(THIS_ _In_ REFIID InterfaceId, _Out_ PVOID * Interface) PURE; \
    STDMETHOD_(ULONG, AddRef)(THIS) PURE;                                                 \
    STDMETHOD_(ULONG, Release)(THIS) PURE;

#undef INTERFACE
#define INTERFACE IUnknown
DECLARE_INTERFACE(IUnknown) {
    DEFINE_ABSTRACT_UNKNOWN()
};
#undef INTERFACE
typedef IUnknown *PUNKNOWN;

typedef NTSTATUS (*PFNCREATEINSTANCE)(_Out_ PUNKNOWN *Unknown, _In_ REFCLSID ClassId, _In_opt_ PUNKNOWN OuterUnknown,
                                      _In_ POOL_TYPE PoolType);
#endif
