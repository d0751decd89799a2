# Int4Train build entry point for PowerShell; the same verbs as build.sh:
#   build | test | native | gpu-test | stage-gpu | bench | demo | layer-demo
param([string]$Verb = "build", [Parameter(ValueFromRemainingArguments = $true)][string[]]$Rest)
$ErrorActionPreference = "Stop"
Set-Location $PSScriptRoot
$Config = if ($env:CONFIG) { $env:CONFIG } else { "Release" }
$Stage = Join-Path $PSScriptRoot "stage"

function Summarize([string[]]$Lines) {
    $get = { param($k) ($Lines | Select-String -Pattern "^\s*${k}:\s*(\d+)" | Select-Object -Last 1).Matches.Groups[1].Value }
    $p = & $get "succeeded"; $f = & $get "failed"; $s = & $get "skipped"
    "{0} passed, {1} failed, {2} skipped" -f ($p ? $p : 0), ($f ? $f : 0), ($s ? $s : 0)
}

function Invoke-Tests([string[]]$Extra) {
    $lines = & dotnet test tests/Int4Train.Tests -c $Config -- @Extra 2>&1 | Tee-Object -Variable out
    $code = $LASTEXITCODE
    Summarize ($out | ForEach-Object { "$_" })
    exit $code
}

function Build-Native {
    if (-not (Get-Command nvcc -ErrorAction SilentlyContinue)) {
        Write-Error "native: nvcc (the CUDA toolkit) was not found. The native library needs CUDA 12+ and CMake; './build.ps1 test' does not."
    }
    if (-not (Test-Path native/third_party/cutlass/include/cutlass/cutlass.h) -and -not $env:INT4TRAIN_CUTLASS_DIR) {
        Write-Error "native: CUTLASS is missing. Run: git submodule update --init native/third_party/cutlass"
    }
    cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
    cmake --build build --config Release
}

switch ($Verb) {
    "build" { dotnet build Int4Train.sln -c $Config }
    "test" { Invoke-Tests $Rest }
    "native" { Build-Native }
    "gpu-test" { Build-Native; $env:INT4TRAIN_NATIVE_DIR = Join-Path $PSScriptRoot "build/native"; $env:INT4TRAIN_REQUIRE_GPU = "1"; Invoke-Tests $Rest }
    "stage-gpu" {
        Remove-Item -Recurse -Force $Stage -ErrorAction SilentlyContinue
        dotnet publish tests/Int4Train.Tests -c $Config -o "$Stage/tests" --no-self-contained
        dotnet publish managed/Int4Train.Cli -c $Config -o "$Stage/cli" --no-self-contained
        "staged into $Stage (copy the .NET runtime to the runner yourself on Windows)"
    }
    "bench" {
        if (Test-Path perf/Int4Train.Bench) { Build-Native; dotnet run --project perf/Int4Train.Bench -c $Config -- @Rest }
        else { "bench: the benchmark harness (perf/) is not available yet (issue: fast INT4 kernels)." }
    }
    "demo" { dotnet run --project managed/Int4Train.Cli -c $Config -- demo @Rest }
    "layer-demo" { dotnet run --project managed/Int4Train.Cli -c $Config -- layer-demo @Rest }
    default { Write-Error "usage: ./build.ps1 {build|test|native|gpu-test|stage-gpu|bench|demo|layer-demo}" }
}
