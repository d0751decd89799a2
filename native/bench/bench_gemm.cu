// bench_gemm.cu — the integer GEMMs (INT4-valued int8 on our kernels) against the cuBLASLt baselines, each checked
// before it is timed.
#include "bench_support.cuh"
#include "cublaslt.cuh"
#include "timing.cuh"
#include "runtime/arena.cuh"
#include "runtime/validate.cuh"
#include "numerics/philox.cuh"
#include "ops/operators.cuh"
#include "gemm/gemm.cuh"

namespace i4t {
namespace bench {

// ---- integer GEMMs and cuBLASLt GEMM baselines --------------------------------------------------------------------
int4train_status bench_gemm(int4train_context ctx, const char* op, int m, int n, int k, int warmup, int runs, int sets,
                            uint64_t seed, int4train_bench_result* r) {
    cudaStream_t s = ctx->stream;
    DevMem mem;
    Lt lt;
    I4T_TRY(lt.init());
    const bool s8 = strncmp(op, "gemm_s8", 7) == 0, s4 = is_op(op, "gemm_s4"), i8 = is_op(op, "lt_int8");
    const bool bf = is_op(op, "lt_bf16"), fp = is_op(op, "lt_fp16");
    if (!(s8 || s4 || i8 || bf || fp)) return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "bench: unknown op '%s'", op);
    int cfg = -1;
    if (strncmp(op, "gemm_s8_cfg", 11) == 0) {
        cfg = atoi(op + 11);
#if defined(INT4TRAIN_HAS_SM90)
        if (ctx->cc != 90 || cfg < 0 || cfg >= gemm_sm90_config_count())
            return fail(INT4TRAIN_ERROR_NOT_SUPPORTED, "bench: %s not available (cc %d)", op, ctx->cc);
        if (k % 32 || n % 4) return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "bench: %s needs k %% 32 == 0, n %% 4 == 0", op);
#else
        return fail(INT4TRAIN_ERROR_NOT_SUPPORTED, "bench: %s needs the SM90 build (cfg %d)", op, cfg);
#endif
    }
    r->ops = 2.0 * m * (double)n * k;
    std::vector<int8_t*> A, B;
    std::vector<uint8_t*> Ap, Bp;
    std::vector<void*> A16, B16;
    for (int i = 0; i < sets; ++i) {
        int8_t* a = mem.get<int8_t>((int64_t)m * k);
        int8_t* b = mem.get<int8_t>((int64_t)n * k);
        BENCH_MEM_CHECK(mem);
        gen_codes_kernel<<<grid_for((int64_t)m * k), 256, 0, s>>>(a, (int64_t)m * k, seed + 17 * i);
        gen_codes_kernel<<<grid_for((int64_t)n * k), 256, 0, s>>>(b, (int64_t)n * k, seed + 17 * i + 5);
        I4T_LAUNCH("gen_codes_kernel");
        A.push_back(a);
        B.push_back(b);
        if (s4) {
            uint8_t* ap = mem.get<uint8_t>((int64_t)m * k / 2);
            uint8_t* bp = mem.get<uint8_t>((int64_t)n * k / 2);
            BENCH_MEM_CHECK(mem);
            I4T_TRY(int4train_pack_int4(ctx, a, ap, m, k));
            I4T_TRY(int4train_pack_int4(ctx, b, bp, n, k));
            Ap.push_back(ap);
            Bp.push_back(bp);
        }
        if (bf || fp) {
            // 16-bit operands: random normal data (the baselines' usual input), not the codes
            float* tmp = mem.get<float>(std::max((int64_t)m, (int64_t)n) * k);
            void* a16 = mem.get<uint16_t>((int64_t)m * k);
            void* b16 = mem.get<uint16_t>((int64_t)n * k);
            BENCH_MEM_CHECK(mem);
            I4T_TRY(gen_16bit(s, tmp, a16, m, k, seed + 31 * i, 0, bf));
            I4T_TRY(gen_16bit(s, tmp, b16, n, k, seed + 31 * i + 3, 1, bf));
            A16.push_back(a16);
            B16.push_back(b16);
        }
    }
    int32_t* C = mem.get<int32_t>((int64_t)m * n);
    int32_t* Cref = mem.get<int32_t>((int64_t)m * n);
    void* C16 = (bf || fp) ? mem.get<uint16_t>((int64_t)m * n) : nullptr;
    double* acc = mem.get<double>(8);
    BENCH_MEM_CHECK(mem);

    LtGemm li8;
    I4T_TRY(li8.init(lt.h, CUDA_R_8I, CUDA_R_32I, CUBLAS_COMPUTE_32I, CUDA_R_32I, false, true, m, n, k));
    LtGemm l16;
    if (bf) I4T_TRY(l16.init(lt.h, CUDA_R_16BF, CUDA_R_16BF, CUBLAS_COMPUTE_32F, CUDA_R_32F, false, true, m, n, k));
    if (fp) I4T_TRY(l16.init(lt.h, CUDA_R_16F, CUDA_R_16F, CUBLAS_COMPUTE_32F, CUDA_R_32F, false, true, m, n, k));

    // workspace for a fixed configuration
#if defined(INT4TRAIN_HAS_SM90)
    char* cws = nullptr;
    size_t cws_bytes = 0;
    if (cfg >= 0) {
        cws_bytes = gemm_sm90_workspace_cfg(cfg, m, n, k, ctx->sm_count) + 256;
        cws = mem.get<char>((int64_t)cws_bytes);
        BENCH_MEM_CHECK(mem);
    }
#endif
    auto run = [&](int i) -> int4train_status {
        if (i8) return li8.run(lt.h, A[i], B[i], C, lt.ws, s);
        if (bf || fp) return l16.run(lt.h, A16[i], B16[i], C16, lt.ws, s);
        if (s4) return int4train_gemm_s4(ctx, Ap[i], Bp[i], C, m, n, k);
#if defined(INT4TRAIN_HAS_SM90)
        if (cfg >= 0) return gemm_sm90_cfg(cfg, s, A[i], B[i], C, m, n, k, ctx->sm_count, cws, cws_bytes);
#endif
        return int4train_gemm_s8(ctx, A[i], B[i], C, m, n, k);
    };
    // check (integer variants): exact equality with cuBLASLt INT8 on set 0
    if (s8 || s4 || i8) {
        I4T_CUDA(cudaMemsetAsync(C, 0x7f, sizeof(int32_t) * (size_t)m * n, s));
        I4T_TRY(run(0));
        I4T_TRY(li8.run(lt.h, A[0], B[0], Cref, lt.ws, s));
        double mism = 0, nz = 0;
        I4T_TRY(compare_i32(s, C, Cref, (int64_t)m * n, acc, &mism, &nz));
        r->check_err = mism;
        r->check_ok = (mism == 0 && nz > 0) ? 1 : 0;
        if (i8) set_text(r, "cuBLASLt INT8 reference itself (%.0f nonzero outputs)", nz);
        else set_text(r, "vs cuBLASLt INT8: %.0f mismatching int32 outputs (%.0f nonzero)", mism, nz);
    } else {
        r->check_ok = -1;
        set_text(r, "baseline (no check)");
    }
    Stats st;
    I4T_TRY(time_runs(s, warmup, runs, sets, run, &st));
    put(r, st);
    return INT4TRAIN_SUCCESS;
}

}  // namespace bench
}  // namespace i4t
