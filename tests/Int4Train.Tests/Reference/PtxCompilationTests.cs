using System.Reflection;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using Int4Train.Reference;
using NUnit.Framework;

namespace Int4Train.Tests.Reference;

/// <summary>
/// Every reference kernel must also run on ILGPU's CUDA accelerator. Without a GPU we can still compile each one
/// with ILGPU's PTX backend for sm_90 and check the PTX has no unresolved external call: a .NET math helper that
/// ILGPU cannot lower (MathF.Truncate became an extern "ModF") otherwise only fails at JIT time on the GPU.
/// </summary>
[TestFixture]
public class PtxCompilationTests
{
    private static IEnumerable<MethodInfo> Kernels() =>
        typeof(ReferenceDevice).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            .Where(m => !m.ContainsGenericParameters && m.GetParameters() is { Length: > 0 } ps && ps[0].ParameterType.Name.StartsWith("Index", StringComparison.Ordinal));

    [Test]
    public void EveryReferenceKernel_CompilesToSelfContainedPtxForSm90()
    {
        using var context = Context.Create(b => b.Cuda().Optimize(OptimizationLevel.O1));
        var backend = new PTXBackend(context, new CudaCapabilityContext(CudaArchitecture.SM_90), CudaArchitecture.SM_90,
            CudaInstructionSet.ISA_80, nvvmAPI: null);
        var kernels = Kernels().ToList();
        Assert.That(kernels, Has.Count.GreaterThanOrEqualTo(20), "kernel discovery");
        var failures = new List<string>();
        foreach (var m in kernels)
        {
            string name = $"{m.DeclaringType!.Name}.{m.Name}";
            try
            {
                var k = (PTXCompiledKernel)backend.Compile(EntryPointDescription.FromImplicitlyGroupedKernel(m), KernelSpecialization.Empty);
                if (k.PTXAssembly.Contains(".extern .func", StringComparison.Ordinal))
                    failures.Add($"{name}: PTX calls an unresolved external function");
            }
            catch (Exception e)
            {
                failures.Add($"{name}: {e.GetType().Name}: {e.Message}");
            }
        }
        TestContext.Out.WriteLine($"{kernels.Count} kernels compiled to PTX");
        Assert.That(failures, Is.Empty);
    }
}
