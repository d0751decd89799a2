namespace Int4Train.Interop;

/// <summary><c>int4train_status</c> of the C ABI (native/include/int4train.h).</summary>
internal enum Status
{
    Success = 0,
    InvalidArgument = 1,
    NullPointer = 2,
    Cuda = 3,
    OutOfMemory = 4,
    NoDevice = 5,
    NotSupported = 6,
    Internal = 7,
}
