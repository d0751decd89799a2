// transpose_codes.cu — the packed INT4 codes of X (n × d) and W (c × d) unpacked and transposed into the K-major INT8
// operands of the LSS GEMMs (method.md §3.4–§3.5: ∇W's K = n runs over X's rows, ∇X's K = c over W's rows):
// out[col, row] = code[row, col] for row < rows, col < cols, zero elsewhere in cols_pad × ld_rows.
//
// A pure data move: ½ byte read and 1 byte written a code (perf/Int4Train.Bench/PhaseBandwidth.cs counts 1.5·(nd + cd)
// for the backward's two transposes), so the kernel is built to run at copy bandwidth:
//   * a CTA transposes a tile of 128 columns × 256 rows: 256 rows × 64 packed bytes in (16 KB), 128 columns × 256
//     tokens out (32 KB), so each column's output is 256 consecutive bytes (two whole 128-byte lines);
//   * each thread loads V bytes (16, 8 or 4: the widest that the row pitch cols/2 and the pointer allow) of each of 4
//     consecutive rows ("a quad"), i.e. 2V columns × 4 rows, unpacks and transposes them in registers (__byte_perm
//     for the 4 × 4 byte transpose, then the nibbles of four bytes at a time: int4_nibbles.cuh) into one 32-bit word
//     per column holding the column's 4 tokens, and stores these words in a shared tile [column][4-token word];
//   * then each thread copies 16 tokens of one column (a 16-byte shared load) to the output with one 16-byte store,
//     16 consecutive lanes covering a column's 256 tokens.
// The shared tile has no padding: its word index is XOR-swizzled per column (swizzle_of) so that the word stores of
// the first phase spread over the banks while each 16-byte group of 4 words stays whole and aligned for the second.
// Shapes the tiled kernel cannot take (cols % 8 ≠ 0, ld_rows % 16 ≠ 0, misaligned pointers, or the generic-kernels
// switch) go through the plain 32 × 32 kernel, which produces the same bytes.
#include "runtime/status.cuh"
#include "runtime/context.cuh"
#include "runtime/launch.cuh"
#include "ops/operators.cuh"
#include "ops/int4_nibbles.cuh"

#include <limits.h>

namespace i4t {

// ---- the general kernel: one code per thread through a 32 × 32 shared tile -------------------------------------
__global__ void unpack_transpose_pad_kernel(const uint8_t* __restrict__ packed, int rows, int cols, int8_t* out,
                                            int cols_pad, int ld_rows) {
    __shared__ int8_t tile[32][33];
    int r0 = blockIdx.y * 32, c0 = blockIdx.x * 32;
    int tx = threadIdx.x, ty = threadIdx.y;  // 32 × 8
    for (int k = ty; k < 32; k += 8) {
        int r = r0 + k, c = c0 + tx;
        int8_t v = 0;
        if (r < rows && c < cols) {
            uint8_t b = packed[(int64_t)r * (cols / 2) + (c >> 1)];
            v = (int8_t)((c & 1) ? hi_nibble(b) : lo_nibble(b));
        }
        tile[k][tx] = v;
    }
    __syncthreads();
    for (int k = ty; k < 32; k += 8) {
        int c = c0 + k, r = r0 + tx;
        if (c < cols_pad && r < ld_rows) out[(int64_t)c * ld_rows + r] = tile[tx][k];
    }
}

// ---- the tiled kernel ----------------------------------------------------------------------------------------
constexpr int kTileCols = 128, kTileRows = 256, kTileThreads = 256;
constexpr int kTileWords = kTileRows / 4;    // 4-token words of one tile column (64)
constexpr int kTileGroups = kTileRows / 16;  // 16-token groups (one 16-byte store each) of one tile column (16)

// Up to two transposes in one launch: blocks [0, tiles[0]) take job[0], the next tiles[1] blocks job[1].
struct CodesTransposeLaunch {
    CodesTranspose job[2];
    unsigned tiles[2];    // tiles of each job (0 for an absent second job)
    unsigned tiles_x[2];  // column tiles of each job: tile t covers columns (t % tiles_x)·128.., rows (t / tiles_x)·256..
};

// Column col's 4-token words are stored at word index w ^ swizzle_of(col). The XOR value is a multiple of 4, so it
// moves whole aligned groups of 4 words (16 bytes) and the second phase's 16-byte loads still read 16 consecutive
// tokens. Bank of a word: (col·64 + (w ^ s)) mod 32 = (w ^ s) mod 32, as a row is 64 words. In a first-phase store
// instruction every lane writes the same column offset within its chunk, lanes differ in the quad w (low bits) and
// in the chunk ch (column 2V·ch + offset); the XOR puts ch into the bits above the quad's:
//   V = 16: 4 lanes a row, quads w = 8·warp + 0..7, s = 8·ch + 4·(offset ≥ 16): banks (w ^ s) all 32 distinct;
//   V = 8:  8 lanes a row, quads 4·warp + 0..3, s = 4·ch: 32 distinct;
//   V = 4:  16 lanes a row, quads 2·warp + 0..1, s = 4·⌊ch/2⌋: 16 distinct, a 2-way conflict (the narrow-row case).
// In the second phase 8 lanes (one 16-byte wavefront) read groups g = 0..7 or 8..15 of one column: g ^ s/4 permutes
// them within the same eight, so the eight groups cover all 32 banks.
__device__ __forceinline__ int swizzle_of(int col) { return ((col >> 4) & 7) << 2; }

// V packed bytes of one row as V/4 words (byte j of the chunk = byte j % 4 of word j / 4, little-endian).
template <int V>
__device__ __forceinline__ void load_chunk(const uint8_t* p, uint32_t (&w)[V / 4]) {
    if constexpr (V == 16) {
        const uint4 v = *reinterpret_cast<const uint4*>(p);
        w[0] = v.x; w[1] = v.y; w[2] = v.z; w[3] = v.w;
    } else if constexpr (V == 8) {
        const uint2 v = *reinterpret_cast<const uint2*>(p);
        w[0] = v.x; w[1] = v.y;
    } else {
        w[0] = *reinterpret_cast<const uint32_t*>(p);
    }
}

// 4 × 4 byte transpose: t[j] byte q = byte j of w[q] (the same __byte_perm steps as bit_split.cu's fold). Selector
// nibbles name bytes 0–3 of the first operand and 4–7 of the second, lowest result byte first:
//   a01 = [w0.b0, w1.b0, w0.b1, w1.b1] (0x5140)   b01 = [w0.b2, w1.b2, w0.b3, w1.b3] (0x7362), a23/b23 for w2, w3;
//   t0 = [a01.b0, a01.b1, a23.b0, a23.b1] = [w0.b0, w1.b0, w2.b0, w3.b0] (0x5410), t1 the upper halves (0x7632), ...
__device__ __forceinline__ void transpose4x4_bytes(uint32_t w0, uint32_t w1, uint32_t w2, uint32_t w3, uint32_t (&t)[4]) {
    const uint32_t a01 = __byte_perm(w0, w1, 0x5140u), b01 = __byte_perm(w0, w1, 0x7362u);
    const uint32_t a23 = __byte_perm(w2, w3, 0x5140u), b23 = __byte_perm(w2, w3, 0x7362u);
    t[0] = __byte_perm(a01, a23, 0x5410u);
    t[1] = __byte_perm(a01, a23, 0x7632u);
    t[2] = __byte_perm(b01, b23, 0x5410u);
    t[3] = __byte_perm(b01, b23, 0x7632u);
}

template <int V>
__global__ void __launch_bounds__(kTileThreads) unpack_transpose_tiles_kernel(CodesTransposeLaunch l) {
    __shared__ __align__(16) uint32_t tile[kTileCols][kTileWords];  // [tile column][4-token word, swizzled]
    const bool second = blockIdx.x >= l.tiles[0];
    const CodesTranspose j = second ? l.job[1] : l.job[0];
    const unsigned t = blockIdx.x - (second ? l.tiles[0] : 0u), tiles_x = second ? l.tiles_x[1] : l.tiles_x[0];
    const int c0 = (int)(t % tiles_x) * kTileCols, r0 = (int)(t / tiles_x) * kTileRows;

    // Phase 1: thread = (chunk ch, quad). The tile's rows hold kTileCols/2 = 64 packed bytes, read by 64/V lanes of
    // V bytes each; the 256 threads cover 256/(64/V) quads at a time. Chunk ch is packed bytes V·ch.. of the tile row,
    // i.e. tile columns 2V·ch .. 2V·ch + 2V − 1; cols % 2V == 0 (the launcher's choice of V), so a chunk is wholly
    // inside the matrix or wholly in the zero padding.
    constexpr int kLanesPerRow = (kTileCols / 2) / V, kQuadsPerPass = kTileThreads / kLanesPerRow;
    static_assert(kTileWords % kQuadsPerPass == 0, "every thread takes the same number of quads");
    const int ch = (int)threadIdx.x % kLanesPerRow, first_col = 2 * V * ch;
    const bool in_cols = c0 + first_col < j.cols;
    const int64_t pitch = j.cols / 2;  // packed bytes a row
    const uint8_t* src = j.packed + c0 / 2 + V * ch;
#pragma unroll
    for (int pass = 0; pass < kTileWords / kQuadsPerPass; ++pass) {
        const int quad = (int)threadIdx.x / kLanesPerRow + pass * kQuadsPerPass;
        uint32_t w[4][V / 4];  // row q of the quad: V packed bytes
#pragma unroll
        for (int q = 0; q < 4; ++q) {
            const int r = r0 + 4 * quad + q;
            if (in_cols && r < j.rows) {
                load_chunk<V>(src + r * pitch, w[q]);
            } else {
#pragma unroll
                for (int k = 0; k < V / 4; ++k) w[q][k] = 0u;  // rows ≥ rows and columns ≥ cols: zero codes
            }
        }
#pragma unroll
        for (int k = 0; k < V / 4; ++k) {
            uint32_t tb[4];  // tb[b] byte q = packed byte 4k + b of row q = codes 2(4k + b) (low) and +1 (high)
            transpose4x4_bytes(w[0][k], w[1][k], w[2][k], w[3][k], tb);
#pragma unroll
            for (int b = 0; b < 4; ++b) {
                const int col = first_col + 2 * (4 * k + b);  // even: col and col + 1 share the swizzle
                const int sw = quad ^ swizzle_of(col);
                tile[col][sw] = lo_nibbles4(tb[b]);      // byte q = code[r0 + 4·quad + q, c0 + col]
                tile[col + 1][sw] = hi_nibbles4(tb[b]);  // byte q = code[r0 + 4·quad + q, c0 + col + 1]
            }
        }
    }
    __syncthreads();

    // Phase 2: 16 lanes a column, lane g stores tokens 16g .. 16g + 15 (words 4g .. 4g + 3) of tile column
    // threadIdx.x / 16 + 16·pass, whose swizzle is therefore 4·(pass % 8). ld_rows % 16 == 0 and out is 16-byte
    // aligned (the launcher's conditions), so every store is aligned and a group is wholly inside ld_rows or wholly
    // past it; the tile's columns past cols_pad are not written.
    constexpr int kColsPerPass = kTileThreads / kTileGroups;
    static_assert(kColsPerPass == 16, "swizzle_of(col) = 4·(pass % 8) needs 16 columns a pass");
    const int g = (int)threadIdx.x % kTileGroups, first = (int)threadIdx.x / kTileGroups, r = r0 + 16 * g;
    int8_t* dst = j.out + (int64_t)(c0 + first) * j.ld_rows + r;
    const int64_t pass_step = (int64_t)kColsPerPass * j.ld_rows;
#pragma unroll
    for (int pass = 0; pass < kTileCols / kColsPerPass; ++pass) {
        const int col = first + kColsPerPass * pass;
        if (c0 + col < j.cols_pad && r < j.ld_rows) {
            const uint4 v = *reinterpret_cast<const uint4*>(&tile[col][(4 * g) ^ ((pass & 7) << 2)]);
            *reinterpret_cast<uint4*>(dst + pass * pass_step) = v;
        }
    }
}

// ---- launching -------------------------------------------------------------------------------------------------
int codes_transpose_chunk_bytes(int4train_context ctx, const CodesTranspose& j) {
    if (ctx->generic_kernels || j.cols % 8 != 0 || j.ld_rows % 16 != 0 || (uintptr_t)j.out % 16 != 0) return 0;
    // cols % 8 == 0: the pitch cols/2 is a multiple of 4; the widest V dividing both the pitch and the pointer
    const uintptr_t a = (uintptr_t)j.packed | (uintptr_t)(j.cols / 2);
    return a % 16 == 0 ? 16 : a % 8 == 0 ? 8 : a % 4 == 0 ? 4 : 0;
}

static int4train_status check_padding(const CodesTranspose& j) {
    if (j.rows < 0 || j.cols < 0 || j.cols_pad < j.cols || j.ld_rows < j.rows)
        return fail(INT4TRAIN_ERROR_INTERNAL, "unpack_transpose_pad: bad shape or padding (%d × %d into %d × %d)",
                    j.rows, j.cols, j.cols_pad, j.ld_rows);
    return INT4TRAIN_SUCCESS;
}

static int4train_status launch_general(int4train_context ctx, const CodesTranspose& j) {
    dim3 grid((unsigned)ceil_div(j.cols_pad, 32), (unsigned)ceil_div(j.ld_rows, 32));
    if (grid.y > 65535) return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "unpack_transpose_pad: too many rows");
    unpack_transpose_pad_kernel<<<grid, dim3(32, 8), 0, ctx->stream>>>(j.packed, j.rows, j.cols, j.out, j.cols_pad,
                                                                       j.ld_rows);
    I4T_LAUNCH("unpack_transpose_pad_kernel");
    return INT4TRAIN_SUCCESS;
}

// The tiled kernel over jobs[0 .. count) (count 1 or 2), all of which take it, with chunks of V bytes (the smallest
// of the jobs' widths: a narrower chunk is correct wherever a wider one is).
static int4train_status launch_tiled(int4train_context ctx, const CodesTranspose* jobs, int count, int v) {
    CodesTransposeLaunch l{};  // a single job: tiles[1] = 0, no block reads job[1]
    int64_t tiles[2] = {0, 0};
    for (int k = 0; k < count; ++k) {
        const int64_t tx = ceil_div(jobs[k].cols_pad, kTileCols);
        tiles[k] = tx * ceil_div(jobs[k].ld_rows, kTileRows);
        l.job[k] = jobs[k];
        l.tiles_x[k] = (unsigned)tx;
    }
    const int64_t total = tiles[0] + tiles[1];
    if (total > INT_MAX) return fail(INT4TRAIN_ERROR_INVALID_ARGUMENT, "unpack_transpose_pad: the operands are too large");
    if (total < 1) return INT4TRAIN_SUCCESS;
    l.tiles[0] = (unsigned)tiles[0];
    l.tiles[1] = (unsigned)tiles[1];
    auto kernel = v == 16 ? unpack_transpose_tiles_kernel<16>
                          : v == 8 ? unpack_transpose_tiles_kernel<8> : unpack_transpose_tiles_kernel<4>;
    kernel<<<(unsigned)total, kTileThreads, 0, ctx->stream>>>(l);
    I4T_LAUNCH("unpack_transpose_tiles_kernel");
    return INT4TRAIN_SUCCESS;
}

// One job through the kernel its chunk width v chose (0: the general one).
static int4train_status launch_one(int4train_context ctx, const CodesTranspose& j, int v) {
    return v ? launch_tiled(ctx, &j, 1, v) : launch_general(ctx, j);
}

int4train_status unpack_transpose_pad(int4train_context ctx, const uint8_t* packed, int rows, int cols, int8_t* out,
                                      int cols_pad, int ld_rows) {
    const CodesTranspose j{packed, rows, cols, out, cols_pad, ld_rows};
    I4T_TRY(check_padding(j));
    return launch_one(ctx, j, codes_transpose_chunk_bytes(ctx, j));
}

int4train_status unpack_transpose_pad_two(int4train_context ctx, const CodesTranspose& a, const CodesTranspose& b) {
    I4T_TRY(check_padding(a));
    I4T_TRY(check_padding(b));
    const int va = codes_transpose_chunk_bytes(ctx, a), vb = codes_transpose_chunk_bytes(ctx, b);
    if (va && vb) {
        const CodesTranspose jobs[2] = {a, b};
        return launch_tiled(ctx, jobs, 2, va < vb ? va : vb);
    }
    I4T_TRY(launch_one(ctx, a, va));
    return launch_one(ctx, b, vb);
}

}  // namespace i4t
