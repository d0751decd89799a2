using Int4Train.Tests.Reference;
using NUnit.Framework;

namespace Int4Train.Tests.Training;

/// <summary>One INT4 backend on the shared CPU reference device for every trainer test of this namespace.</summary>
[SetUpFixture]
public sealed class TrainingFixture
{
    private static Int4Backend? _backend;

    /// <summary>The host model's INT4 backend (the ILGPU reference on <see cref="ReferenceDeviceFixture.Cpu"/>).</summary>
    public static Int4Backend Backend => _backend ??= Int4Backend.Reference(ReferenceDeviceFixture.Cpu);

    [OneTimeTearDown]
    public void TearDown()
    {
        _backend?.Dispose();
        _backend = null;
    }
}
