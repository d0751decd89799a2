# Int4Train build entry point for PowerShell 7+; the same verbs, arguments, layout and exit codes as build.sh:
#   build | test | pack | native | gpu-test | stage-gpu | bench | demo | layer-demo   (see build.sh for each)
# `test` here builds the solution and runs the test suite; the package checks (sample, tool, this script under
# PowerShell) run in build.sh's `test`, which is what CI runs.
# No param() block on purpose: every argument after the verb goes on verbatim (with a param block PowerShell reads
# `--out` / `--in` as abbreviations of its own common parameters and stops with "parameter name is ambiguous").
$ErrorActionPreference = "Stop"
$Verb = if ($args.Count -gt 0) { [string]$args[0] } else { "build" }
[string[]]$Rest = @($args | Select-Object -Skip 1)
Set-Location $PSScriptRoot
$Config = if ($env:CONFIG) { $env:CONFIG } else { "Release" }
$Stage = if ($env:STAGE) { $env:STAGE } else { Join-Path $PSScriptRoot "stage" }
$Packages = Join-Path $PSScriptRoot "artifacts/packages"
$CutlassSubmodule = "native/third_party/cutlass"
$env:DOTNET_CLI_TELEMETRY_OPTOUT = "1"; $env:DOTNET_NOLOGO = "1"; $env:DOTNET_SKIP_FIRST_TIME_EXPERIENCE = "1"

function Test-Sdk { [bool](Get-Command dotnet -ErrorAction SilentlyContinue) -and [bool](& dotnet --list-sdks 2>$null) }

# Runs a program and stops the script with its exit code when it fails (build.sh's `set -e`).
function Invoke-Checked([string]$Program, [string[]]$Arguments) {
    & $Program @Arguments
    if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
}

function Stop-WithMessage([string]$Message, [int]$Code = 2) { [Console]::Error.WriteLine($Message); exit $Code }

# Test-runner output with the skipped tests collapsed, as build.sh's collapse_skips: the first test skipped for a
# reason on one line with it, later ones with the same reason only counted.
function Show-TestOutput {
    begin {
        $seen = [ordered]@{}; $first = @{}; $name = $null; $reason = $null
        function Complete-Skip {
            if ($null -eq $name) { return }
            if (-not $seen.Contains($reason)) { $seen[$reason] = 0; $first[$reason] = $name; "${name}: $reason" }
            $seen[$reason]++
            Set-Variable -Scope 1 name $null; Set-Variable -Scope 1 reason $null
        }
    }
    process {
        $line = "$_"
        if ($line.StartsWith("skipped ")) { Complete-Skip; $name = $line; $reason = $null }
        elseif ($null -ne $name -and $line.StartsWith(" ")) { if ($null -eq $reason) { $reason = $line.Trim() } }
        else { Complete-Skip; $line }
    }
    end {
        Complete-Skip
        foreach ($r in $seen.Keys) {
            if ($seen[$r] -gt 1) { "($($seen[$r] - 1) more tests skipped for the reason of $($first[$r].Substring(8)))" }
        }
    }
}

# `dotnet test` hides what the test program says when it stops before running a test (an unknown option, say):
# name the exit code and let the program itself say why, asked only to list the tests with the same arguments.
function Write-RunnerExit([int]$Code, [string[]]$Extra) {
    $meaning = switch ($Code) {
        3 { "the test session was aborted" } 5 { "invalid command line" }
        8 { "zero tests ran (a filter that matches no test?)" } default { "https://aka.ms/testingplatform/exitcodes" }
    }
    [Console]::Error.WriteLine("test runner failed with exit code $Code before any test result: $meaning")
    $dll = "tests/Int4Train.Tests/bin/$Config/net10.0/Int4Train.Tests.dll"
    if (-not (Test-Path $dll)) { $dll = "$Stage/tests/Int4Train.Tests.dll" }
    if (Test-Path $dll) {
        & dotnet $dll @Extra --list-tests 2>&1 | Select-Object -First 3 | ForEach-Object { [Console]::Error.WriteLine("  test program: $_") }
    }
}

# Runs the suite (extra arguments go to the test runner), prints its output and the closing line
# "N passed, N failed, N skipped", and returns the runner's exit code.
function Invoke-Tests([string[]]$Extra, [switch]$NoBuild) {
    $program, $arguments = if (Test-Sdk) {
        "dotnet", (@("test", "tests/Int4Train.Tests", "-c", $Config) + $(if ($NoBuild) { @("--no-build") } else { @() }) + @("--") + $Extra)
    } else { "dotnet", (@("$Stage/tests/Int4Train.Tests.dll") + $Extra) }
    $lines = [System.Collections.Generic.List[string]]::new()
    & $program @arguments 2>&1 | ForEach-Object { $lines.Add("$_"); "$_" } | Show-TestOutput | Out-Host
    $code = $LASTEXITCODE
    $count = { param($key) $m = $lines | Select-String -Pattern "^\s*${key}:\s*(\d+)" | Select-Object -Last 1
        if ($m) { [int]$m.Matches[0].Groups[1].Value } else { 0 } }
    $passed = & $count "succeeded"; $failed = & $count "failed"; $skipped = & $count "skipped"
    if ($code -ne 0 -and $passed + $failed + $skipped -eq 0) { Write-RunnerExit $code $Extra; $failed++ }
    "{0} passed, {1} failed, {2} skipped" -f $passed, $failed, $skipped | Out-Host
    return $code
}

# CUTLASS (headers only) for the SM90 GEMM: INT4TRAIN_CUTLASS_DIR, else the submodule, fetched here when missing.
function Initialize-Cutlass {
    if ($env:INT4TRAIN_CUTLASS_DIR) {
        if (Test-Path (Join-Path $env:INT4TRAIN_CUTLASS_DIR "include/cutlass/cutlass.h")) { return }
        Stop-WithMessage "native: INT4TRAIN_CUTLASS_DIR=$($env:INT4TRAIN_CUTLASS_DIR) has no include/cutlass/cutlass.h"
    }
    if (Test-Path "$CutlassSubmodule/include/cutlass/cutlass.h") { return }
    "native: CUTLASS is missing; fetching it: git submodule update --init $CutlassSubmodule"
    & git submodule update --init $CutlassSubmodule
    if ($LASTEXITCODE -eq 0 -and (Test-Path "$CutlassSubmodule/include/cutlass/cutlass.h")) { return }
    Stop-WithMessage ("native: could not fetch the CUTLASS submodule (not a git clone, or github.com unreachable). Run`n" +
        "        git submodule update --init $CutlassSubmodule  where GitHub is reachable, or download CUTLASS v4.7.0`n" +
        "        and set INT4TRAIN_CUTLASS_DIR=<its folder>.")
}

# An nvcc that runs, on PATH or in /usr/local/cuda/bin (a distribution's /usr/bin/nvcc wrapper can point at nothing).
function Find-Nvcc {
    function Test-Runs([string]$Exe) {
        try { & $Exe --version *> $null; $LASTEXITCODE -eq 0 } catch { $false }
    }
    if ((Get-Command nvcc -ErrorAction SilentlyContinue) -and (Test-Runs nvcc)) { return $true }
    $cudaBin = "/usr/local/cuda/bin"
    if ((Test-Path "$cudaBin/nvcc") -and (Test-Runs "$cudaBin/nvcc")) {
        $env:PATH = "$cudaBin$([IO.Path]::PathSeparator)$($env:PATH)"; return $true
    }
    return $false
}

function Build-Native {
    if (-not (Find-Nvcc)) {
        Stop-WithMessage ("native: no working nvcc (the CUDA toolkit) was found. The native library needs CUDA 12+ and CMake;`n" +
            "        the C# reference path and './build.ps1 test' do not need it.")
    }
    Initialize-Cutlass
    $configure = @("-S", ".", "-B", "build", "-DCMAKE_BUILD_TYPE=Release")
    if ($env:INT4TRAIN_CUTLASS_DIR) { $configure += "-DINT4TRAIN_CUTLASS_DIR=$($env:INT4TRAIN_CUTLASS_DIR)" }
    Invoke-Checked cmake $configure
    Invoke-Checked cmake @("--build", "build", "--config", "Release", "-j", [Environment]::ProcessorCount)
}

function Invoke-Pack([string[]]$Extra) {
    Remove-Item -Recurse -Force $Packages -ErrorAction SilentlyContinue
    Invoke-Checked dotnet (@("pack", "Int4Train.sln", "-c", $Config) + $Extra)
    # The same file Int4Train.csproj packs (NativeLibraryFile).
    if (Test-Path build/native/libint4train.so) { "pack: Int4Train carries build/native/libint4train.so (runtimes/linux-x64/native)" }
    else { "pack: no build/native/libint4train.so: Int4Train is CPU-only (./build.ps1 native first for the CUDA library)" }
    "packages in ${Packages}:"; Get-ChildItem $Packages -Name
}

# One folder for the three programs (shared assemblies and SkiaSharp natives once), reached as stage/tests,
# stage/cli and stage/bench, plus the .NET runtime as stage/dotnet-runtime.tar.xz: the layout of build.sh.
function Invoke-StageGpu {
    Remove-Item -Recurse -Force $Stage -ErrorAction SilentlyContinue
    New-Item -ItemType Directory -Force $Stage | Out-Null
    foreach ($project in "tests/Int4Train.Tests", "managed/Int4Train.Cli", "perf/Int4Train.Bench") {
        Invoke-Checked dotnet @("publish", $project, "-c", $Config, "-o", "$Stage/app", "--no-self-contained")
    }
    $linkType = if ($IsWindows) { "Junction" } else { "SymbolicLink" } # junctions need no administrator rights
    foreach ($d in "tests", "cli", "bench") {
        $target = if ($IsWindows) { Join-Path $Stage "app" } else { "app" }
        New-Item -ItemType $linkType -Path (Join-Path $Stage $d) -Target $target | Out-Null
    }
    $dotnet = Get-Item (Get-Command dotnet).Source
    $dotnetPath = if ($dotnet.ResolvedTarget) { $dotnet.ResolvedTarget } else { $dotnet.FullName }
    $dotnetDir = Split-Path -Parent $dotnetPath
    $dotnetExe = Split-Path -Leaf $dotnetPath
    Invoke-Checked tar @("-C", $dotnetDir, "-cJf", "$Stage/dotnet-runtime.tar.xz", $dotnetExe, "host", "shared/Microsoft.NETCore.App")
    "staged into ${Stage}: on the GPU runner run  tar -xJf stage/dotnet-runtime.tar.xz -C /tmp/dotnet && DOTNET_ROOT=/tmp/dotnet PATH=/tmp/dotnet:`$PATH ./build.sh gpu-test"
}

# A program of the solution: `dotnet run` with the SDK, else the staged build (a GPU runner with the runtime only).
function Invoke-Program([string]$Project, [string]$Staged, [string[]]$Arguments) {
    if (Test-Sdk) { Invoke-Checked dotnet (@("run", "--project", $Project, "-c", $Config, "--") + $Arguments) }
    else { Invoke-Checked dotnet (@("$Stage/$Staged") + $Arguments) }
}

switch ($Verb) {
    "build" { Invoke-Checked dotnet @("build", "Int4Train.sln", "-c", $Config) }
    "test" {
        & dotnet build Int4Train.sln -c $Config
        if ($LASTEXITCODE -ne 0) { "0 passed, 1 failed, 0 skipped"; exit 1 }
        exit (Invoke-Tests $Rest -NoBuild)
    }
    "pack" { Invoke-Pack @() }
    "native" { Build-Native }
    "gpu-test" {
        Build-Native
        $env:INT4TRAIN_NATIVE_DIR = Join-Path $PSScriptRoot "build/native"; $env:INT4TRAIN_REQUIRE_GPU = "1"
        exit (Invoke-Tests $Rest)
    }
    "stage-gpu" { Invoke-StageGpu }
    "bench" {
        Build-Native
        $env:INT4TRAIN_NATIVE_DIR = Join-Path $PSScriptRoot "build/native"
        Invoke-Program "perf/Int4Train.Bench" "bench/Int4Train.Bench.dll" $Rest
    }
    { $_ -in "demo", "layer-demo" } { Invoke-Program "managed/Int4Train.Cli" "cli/Int4Train.Cli.dll" (@($Verb) + $Rest) }
    default { Stop-WithMessage "usage: ./build.ps1 {build|test|pack|native|gpu-test|stage-gpu|bench|demo|layer-demo} [arguments]" }
}
exit 0
