// stdunk.h: CUnknown, the aggregatable IUnknown implementation PortCls
// miniports derive from, with DECLARE_STD_UNKNOWN and DEFINE_STD_CONSTRUCTOR
// (semantics of the WDK's stdunk.h: a reference count starting at 0, an outer
// unknown that is the object itself when not aggregated, and `delete this`
// when the count returns to 0).
#ifndef _STDUNK_H_
#define _STDUNK_H_
#include <portcls.h>

#undef INTERFACE
#define INTERFACE INonDelegatingUnknown
DECLARE_INTERFACE(INonDelegatingUnknown) {
    STDMETHOD_(NTSTATUS, NonDelegatingQueryInterface)(THIS_ _In_ REFIID, _COM_Outptr_ PVOID *) PURE;
    STDMETHOD_(ULONG, NonDelegatingAddRef)(THIS) PURE;
    STDMETHOD_(ULONG, NonDelegatingRelease)(THIS) PURE;
};
#undef INTERFACE
typedef INonDelegatingUnknown *PNONDELEGATINGUNKNOWN;

class CUnknown : public INonDelegatingUnknown {
  private:
    LONG m_lRefCount;
    PUNKNOWN m_pUnknownOuter;

  public:
    CUnknown(PUNKNOWN pUnknownOuter) : m_lRefCount(0) {
        // Not aggregated: the outer unknown is this object's own non-delegating
        // one, whose three methods sit in IUnknown's vtable slots.
        m_pUnknownOuter = pUnknownOuter ? pUnknownOuter : (PUNKNOWN)(PNONDELEGATINGUNKNOWN)this;
    }
    virtual ~CUnknown(void) {}

    PUNKNOWN GetOuterUnknown(void) { return m_pUnknownOuter; }

    STDMETHODIMP_(ULONG) NonDelegatingAddRef(void) { return (ULONG)InterlockedIncrement(&m_lRefCount); }

    STDMETHODIMP_(ULONG) NonDelegatingRelease(void) {
        LONG count = InterlockedDecrement(&m_lRefCount);
        if (count == 0) {
            m_lRefCount++;  // stabilise: a Release from the destructor must not delete twice
            delete this;
            return 0;
        }
        return (ULONG)count;
    }

    STDMETHODIMP_(NTSTATUS) NonDelegatingQueryInterface(_In_ REFIID rIID, _COM_Outptr_ PVOID *ppVoid) {
        if (IsEqualGUIDAligned(rIID, IID_IUnknown)) {
            *ppVoid = (PVOID)(PNONDELEGATINGUNKNOWN)this;
            NonDelegatingAddRef();
            return STATUS_SUCCESS;
        }
        *ppVoid = NULL;
        return STATUS_INVALID_PARAMETER;
    }
};

#define DECLARE_STD_UNKNOWN()                                                                                   \
    STDMETHODIMP_(NTSTATUS) NonDelegatingQueryInterface(_In_ REFIID iid, _COM_Outptr_ PVOID *ppvObject);       \
    STDMETHODIMP_(NTSTATUS) QueryInterface(_In_ REFIID riid, _Out_ void **ppv) {                               \
        return GetOuterUnknown()->QueryInterface(riid, ppv);                                                    \
    }                                                                                                           \
    STDMETHODIMP_(ULONG) AddRef() { return GetOuterUnknown()->AddRef(); }                                       \
    STDMETHODIMP_(ULONG) Release() { return GetOuterUnknown()->Release(); }

#define DEFINE_STD_CONSTRUCTOR(Class) \
    Class(PUNKNOWN pUnknownOuter) : CUnknown(pUnknownOuter) {}

#define QICAST(Type) PVOID((Type)(this))
#define QICASTUNKNOWN(Type) PVOID(PUNKNOWN((Type)(this)))

#define STD_CREATE_BODY_WITH_TAG_(Class, ppUnknown, pUnknownOuter, poolFlags, tag, base)                        \
    NTSTATUS ntStatus;                                                                                          \
    Class *p = new (poolFlags, tag) Class(pUnknownOuter);                                                       \
    if (p) {                                                                                                    \
        *ppUnknown = PUNKNOWN((base)(p));                                                                       \
        (*ppUnknown)->AddRef();                                                                                 \
        ntStatus = STATUS_SUCCESS;                                                                              \
    } else {                                                                                                    \
        ntStatus = STATUS_INSUFFICIENT_RESOURCES;                                                               \
    }                                                                                                           \
    return ntStatus
#define STD_CREATE_BODY_WITH_TAG(Class, ppUnknown, pUnknownOuter, poolFlags, tag) \
    STD_CREATE_BODY_WITH_TAG_(Class, ppUnknown, pUnknownOuter, poolFlags, tag, PUNKNOWN)
#define STD_CREATE_BODY(Class, ppUnknown, pUnknownOuter, poolFlags) \
    STD_CREATE_BODY_WITH_TAG_(Class, ppUnknown, pUnknownOuter, poolFlags, 'rCcP', PUNKNOWN)
#define STD_CREATE_BODY_(Class, ppUnknown, pUnknownOuter, poolFlags, base) \
    STD_CREATE_BODY_WITH_TAG_(Class, ppUnknown, pUnknownOuter, poolFlags, 'rCcP', base)
#endif
