/* The residual RNN's nonlinear recurrence and its backward pass (BPTT), fused in one loop.

   h_0 = 0,  h_{k+1} = h_k + dt * sigma(x_k U + b - h_k M),  y_k = c . h_{k+1} + c0      (models.py)

   M is the dense recurrent matrix (row-vector convention: pre_j -= sum_i h_i M_ij) or, when
   `diagonal`, the vector g of a diagonal M. Every array is float64 and C-contiguous; E stacks
   independent parameter sets (an ensemble, e.g. perturbed copies of one model) over shared inputs.

   Work is split into items of BLOCK batch rows of one ensemble member; an item runs the whole time
   loop in cache, on the width padded to a multiple of LANES (padded units have zero weights and stay
   exactly zero). Products are register-blocked (up to 8 rows x 16 columns). The forward stores only the
   activations sigma(pre); the backward recomputes the states from them, bit for bit. A forward pass that keeps
   no activations puts an item's rows in the lanes instead (forward_item_lanes), with the same outputs. Items
   are dealt to OpenMP threads; parameter gradients are summed per item and reduced in item order, so results
   do not depend on the number of threads. linear_forward / linear_backward (at the end) evaluate the linear
   recurrence as a causal convolution with its impulse response instead. */

#include <math.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef __AVX512F__
#include <immintrin.h>
#endif


enum { LINEAR = 0, TANH = 1, HARDTANH = 2, RELU = 3 };
enum { LANES = 8, ROWS = 4, BLOCK = 16 };
typedef double lanes __attribute__((vector_size(LANES * sizeof(double)), aligned(sizeof(double))));

/* The training loss of outputs y (E, B, T) against a target (B, T): per row sum_k w2[k] (y - t)^2 into `rows`
   (E * B), the gradient 2 w2[k] (y - t) / (B T) into `gradient` when not NULL (see weighted_squared_error). */
typedef struct {
    const double *target, *w2;
    double *gradient, *rows;
} Loss;

typedef struct {
    int E, B, T, m, activation, diagonal, nthreads;
    double dt;
    const double *x, *U, *bias, *feedback, *c, *c0, *grad_y;
    double *y, *acts, *partials;
    const Loss *loss; /* when not NULL, each forward item's rows' losses, computed while its outputs are in cache */
} Problem;

/* n rounded up to whole LANES (a padded width, or a padded length of time). */
static int padded(int n) { return (n + LANES - 1) / LANES * LANES; }
static int blocks(const Problem *p) { return (p->B + BLOCK - 1) / BLOCK; }
/* The rows an item of `rows` sequences computes: a whole number of register blocks, so that a short batch
   (one impulse response) does not pay for a full BLOCK. */
static int span(int rows) { return (rows + ROWS - 1) / ROWS * ROWS; }
static long feedback_size(const Problem *p) { return p->diagonal ? p->m : (long)p->m * p->m; }
/* Gradient slots of one item: U, bias, feedback, c, c0 (unpadded). */
static long partial_size(const Problem *p) { return 3L * p->m + feedback_size(p) + 1; }

static lanes load(const double *at) { return *(const lanes *)at; }
static void store(double *at, lanes value) { *(lanes *)at = value; }

/* The sum of a vector's lanes, in lane order. */
static double lane_sum(lanes v) {
    double total = 0.0;
    for (int q = 0; q < LANES; q++) total += v[q];
    return total;
}

/* The loss rows first .. first + count - 1 of y (E * B rows of T): each summed over k in lanes (k mod LANES),
   the lanes in order, then the last T mod LANES steps. */
static void loss_rows(const Loss *loss, int B, int T, const double *y, long first, int count) {
    const int whole = T / LANES * LANES;
    const double two_over_n = 2 / ((double)B * T), *restrict w2 = loss->w2;
    for (long row = first; row < first + count; row++) {
        const double *restrict yr = y + row * T, *restrict tr = loss->target + (row % B) * T;
        double *restrict gr = loss->gradient ? loss->gradient + row * T : NULL;
        lanes sum = {0};
        for (int k = 0; k < whole; k += LANES) {
            const lanes difference = load(yr + k) - load(tr + k), scaled = difference * load(w2 + k);
            if (gr) store(gr + k, scaled * two_over_n);
            sum += difference * scaled;
        }
        double total = lane_sum(sum);
        for (int k = whole; k < T; k++) {
            const double difference = yr[k] - tr[k], scaled = difference * w2[k];
            if (gr) gr[k] = scaled * two_over_n;
            total += difference * scaled;
        }
        loss->rows[row] = total;
    }
}

/* losses[e]: member e's rows summed in order, over B T; frees the rows. */
static void member_losses(const Loss *loss, int E, int B, int T, double *losses) {
    for (int e = 0; e < E; e++) {
        double total = 0.0;
        for (int b = 0; b < B; b++) total += loss->rows[(long)e * B + b];
        losses[e] = total / ((double)B * T);
    }
    free(loss->rows);
}

/* out (rows x width) -= a (rows x inner) @ b (inner x width) on the columns from `first` in blocks of
   `groups` x LANES, `rows` in blocks of `height` (<= 2 * ROWS): the height x groups accumulators stay in
   registers, and each output is summed over `inner` in order, whatever the blocking. Element (row, i) of a
   is a[row * row_stride + i * inner_stride]. */
static inline __attribute__((always_inline)) void subtract_block(double *restrict out, const double *restrict a,
                                                                  const double *restrict b, int rows, int inner,
                                                                  int width, long row_stride, long inner_stride,
                                                                  int first, int groups, int height) {
    for (int j = first; j + groups * LANES <= width; j += groups * LANES)
        for (int r = 0; r + height <= rows; r += height) {
            lanes sum[2 * ROWS][2] = {{{0}}}; /* at most 8 rows x 2 groups */
            for (int i = 0; i < inner; i++) {
                lanes column[2];
                for (int g = 0; g < groups; g++) column[g] = load(b + (long)i * width + j + g * LANES);
                for (int q = 0; q < height; q++) {
                    const double value = a[(r + q) * row_stride + i * inner_stride];
                    for (int g = 0; g < groups; g++) sum[q][g] += value * column[g];
                }
            }
            for (int q = 0; q < height; q++)
                for (int g = 0; g < groups; g++) {
                    double *at = out + (long)(r + q) * width + j + g * LANES;
                    store(at, load(at) - sum[q][g]);
                }
        }
}

/* out (rows x width) -= a @ b (inner x width), a as in subtract_block; rows % ROWS == 0, width % LANES == 0.
   Blocks of 8 rows x 16 columns (16 accumulators; 8 x 8 for the last 8 columns) keep both FMA units
   busy with few loads per product; the 4 rows left over from 8-row blocks take 4 x 16 and 4 x 8. */
static inline __attribute__((always_inline)) void product(double *restrict out, const double *restrict a,
                                                           const double *restrict b, int rows, int inner, int width,
                                                           long row_stride, long inner_stride) {
    const int wide = width / (2 * LANES) * (2 * LANES), tall = rows / (2 * ROWS) * (2 * ROWS);
    double *rest = out + (long)tall * width;
    const double *rest_a = a + tall * row_stride;
    subtract_block(out, a, b, tall, inner, width, row_stride, inner_stride, 0, 2, 2 * ROWS);
    subtract_block(rest, rest_a, b, rows - tall, inner, width, row_stride, inner_stride, 0, 2, ROWS);
    if (wide == width) return;
    subtract_block(out, a, b, tall, inner, width, row_stride, inner_stride, wide, 1, 2 * ROWS);
    subtract_block(rest, rest_a, b, rows - tall, inner, width, row_stride, inner_stride, wide, 1, ROWS);
}

/* out (rows x width) -= a (rows x inner) @ b (inner x width). */
static void subtract_product(double *restrict out, const double *restrict a, const double *restrict b, int rows,
                             int inner, int width) {
    product(out, a, b, rows, inner, width, inner, 1);
}

/* out (rows x width) -= a^T @ b (inner x width) for a (inner x rows): no transposed copy of a is made. */
static void subtract_transposed_product(double *restrict out, const double *restrict a, const double *restrict b,
                                        int rows, int inner, int width) {
    product(out, a, b, rows, inner, width, 1, rows);
}

/* Lanes of a and b picked by constant indices (b's from LANES on): clang's and GCC 12's builtin, or older
   GCC's. */
#if defined(__clang__) || __GNUC__ >= 12
#define SHUFFLE(a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
#else
typedef long long lane_order __attribute__((vector_size(LANES * sizeof(long long))));
#define SHUFFLE(a, b, ...) __builtin_shuffle(a, b, (lane_order){__VA_ARGS__})
#endif

/* r[0..7] (rows of an 8 x 8 block) replaced by the block's columns, in three rounds of pairwise shuffles. */
static void transpose_block(lanes r[LANES]) {
    lanes t[LANES], u[LANES];
    for (int q = 0; q < LANES; q += 2) {
        t[q] = SHUFFLE(r[q], r[q + 1], 0, 8, 2, 10, 4, 12, 6, 14);
        t[q + 1] = SHUFFLE(r[q], r[q + 1], 1, 9, 3, 11, 5, 13, 7, 15);
    }
    for (int q = 0; q < LANES; q += 4)
        for (int p = 0; p < 2; p++) {
            u[q + p] = SHUFFLE(t[q + p], t[q + p + 2], 0, 1, 8, 9, 4, 5, 12, 13);
            u[q + p + 2] = SHUFFLE(t[q + p], t[q + p + 2], 2, 3, 10, 11, 6, 7, 14, 15);
        }
    for (int q = 0; q < LANES / 2; q++) {
        r[q] = SHUFFLE(u[q], u[q + 4], 0, 1, 2, 3, 8, 9, 10, 11);
        r[q + 4] = SHUFFLE(u[q], u[q + 4], 4, 5, 6, 7, 12, 13, 14, 15);
    }
}

/* out[i] = (x[0, i], .., x[7, i]) for i < T: eight rows of x (those from `rows` on read as zeros) in lanes. */
static void rows_in_lanes(const double *x, int rows, int T, lanes *restrict out) {
    int i = 0;
    for (; i + LANES <= T; i += LANES) {
        lanes block[LANES];
        for (int q = 0; q < LANES; q++) block[q] = q < rows ? load(x + (long)q * T + i) : (lanes){0};
        transpose_block(block);
        for (int q = 0; q < LANES; q++) out[i + q] = block[q];
    }
    for (; i < T; i++)
        for (int q = 0; q < LANES; q++) out[i][q] = q < rows ? x[(long)q * T + i] : 0.0;
}

/* e^r - 1 for |r| <= ln2 / 2: the degree-13 Taylor polynomial in Horner form, for r a double or lanes. */
#define EXPM1_TAYLOR(r)                                                                                       \
    ((((((((((((((r) * (1.0 / 6227020800.0) + 1.0 / 479001600.0) * (r) + 1.0 / 39916800.0) * (r) +          \
               1.0 / 3628800.0) * (r) + 1.0 / 362880.0) * (r) + 1.0 / 40320.0) * (r) + 1.0 / 5040.0) * (r) +  \
           1.0 / 720.0) * (r) + 1.0 / 120.0) * (r) + 1.0 / 24.0) * (r) + 1.0 / 6.0) * (r) + 0.5) * (r) +      \
      1.0) * (r))

/* EXPM1_TAYLOR(2 h) from h = r / 2 without forming r: the Horner value after the coefficient of r^k is kept
   times 2^k (a scaling by a power of two, so every rounding is that of EXPM1_TAYLOR(r)). */
#define EXPM1_TAYLOR_HALF(h)                                                                                     \
    ((((((((((((((h) * (8192.0 / 6227020800.0) + 4096.0 / 479001600.0) * (h) + 2048.0 / 39916800.0) * (h) +  \
               1024.0 / 3628800.0) * (h) + 512.0 / 362880.0) * (h) + 256.0 / 40320.0) * (h) + 128.0 / 5040.0) * \
            (h) + 64.0 / 720.0) * (h) + 32.0 / 120.0) * (h) + 16.0 / 24.0) * (h) + 8.0 / 6.0) * (h) + 4.0 / 2.0) *  \
       (h) + 2.0) * (h))

/* tanh(x) = u / (u + 2) with u = e^{2x} - 1, and e^y - 1 = 2^n (e^r - 1) + (2^n - 1) where
   n = round(y / ln2) (by the 1.5 * 2^52 shifter), r = y - n ln2 in two parts (|r| <= ln2 / 2), and
   e^r - 1 is its degree-13 Taylor polynomial (truncation error below 1e-17). Relative error a few
   ulp, also near 0; |x| >= 20 gives +-1 exactly; NaN passes through. Branch-free, so the compiler
   vectorises it (libm's tanh is scalar and ~10x slower). */
static inline double fast_tanh(double x) {
    const double log2e = 1.4426950408889634, ln2_high = 0.6931471803691238, ln2_low = 1.9082149292705877e-10;
    const double shifter = 6755399441055744.0;
    double y = 2.0 * x;
    y = y > 40.0 ? 40.0 : y;
    y = y < -40.0 ? -40.0 : y;
    const double shifted = y * log2e + shifter, n = shifted - shifter;
    const double r = (y - n * ln2_high) - n * ln2_low;
    const double poly = EXPM1_TAYLOR(r); /* e^r - 1 */
    uint64_t bits, scale_bits;
    memcpy(&bits, &shifted, sizeof bits);
    scale_bits = (bits + 1023) << 52; /* the low bits of `shifted` hold n: 2^n as a double */
    double scale;
    memcpy(&scale, &scale_bits, sizeof scale);
    const double u = scale * poly + (scale - 1.0);
    return u / (u + 2.0);
}

#ifdef __AVX512F__
/* fast_tanh on LANES values at once, with the same steps, except that u / (u + 2) is u times the
   reciprocal of d = u + 2: rcp14's 14-bit estimate and one Newton step (28 bits), then the quotient
   corrected by its fused residual u - q d, which squares the error again (the division was the scalar
   form's bottleneck in a profile). Two operations fewer give the same bits: x is bounded by 20 and reduced
   to r / 2 (2x is never formed), and 2^n comes from vscalefpd. A step at width 16 spends about half its
   time here. */
static lanes tanh_lanes(lanes x) {
    const double log2e = 1.4426950408889634, ln2_high = 0.6931471803691238, ln2_low = 1.9082149292705877e-10;
    const double shifter = 6755399441055744.0;
    /* max(-20, min(20, x)) with the bound first: a NaN is the second operand, so it passes through */
    const lanes a = (lanes)_mm512_max_pd(_mm512_set1_pd(-20.0), _mm512_min_pd(_mm512_set1_pd(20.0), (__m512d)x));
    const lanes shifted = a * (2.0 * log2e) + shifter, n = shifted - shifter;
    const lanes half_r = (a - n * (0.5 * ln2_high)) - n * (0.5 * ln2_low); /* r / 2, exactly */
    const lanes poly = EXPM1_TAYLOR_HALF(half_r);
    const lanes scale = (lanes)_mm512_scalef_pd(_mm512_set1_pd(1.0), (__m512d)n);
    const lanes u = scale * poly + (scale - 1.0), d = u + 2.0;
    lanes inverse = (lanes)_mm512_rcp14_pd((__m512d)d);
    inverse = inverse * (2.0 - d * inverse);
    const __m512d quotient = (__m512d)(u * inverse);
    const __m512d residual = _mm512_fnmadd_pd(quotient, (__m512d)d, (__m512d)u);
    return (lanes)_mm512_fmadd_pd(residual, (__m512d)inverse, quotient);
}
#endif

static void activate(int activation, double *restrict values, long n) { /* n % LANES == 0 */
    switch (activation) {
    case TANH:
#ifdef __AVX512F__
        for (long i = 0; i < n; i += LANES) store(values + i, tanh_lanes(load(values + i)));
#else
#pragma omp simd
        for (long i = 0; i < n; i++) values[i] = fast_tanh(values[i]);
#endif
        break;
    case HARDTANH: /* NaN passes through, as torch.clamp */
        for (long i = 0; i < n; i++) values[i] = values[i] < -1.0 ? -1.0 : (values[i] > 1.0 ? 1.0 : values[i]);
        break;
    case RELU: /* NaN passes through, as torch.relu */
        for (long i = 0; i < n; i++) values[i] = values[i] < 0.0 ? 0.0 : values[i];
        break;
    default:
        break;
    }
}

/* grad_pre = carry * dt * sigma'(pre), with sigma'(pre) taken from a = sigma(pre) as torch's backward
   formulas take it (tanh: 1 - a^2; hardtanh: -1 < a < 1; relu: a > 0). */
static void activation_gradient(int activation, double dt, const double *restrict carry, const double *restrict acts,
                                double *restrict grad_pre, long n) {
    switch (activation) {
    case TANH:
        for (long i = 0; i < n; i++) grad_pre[i] = carry[i] * dt * (1.0 - acts[i] * acts[i]);
        break;
    case HARDTANH:
        for (long i = 0; i < n; i++) grad_pre[i] = (acts[i] > -1.0 && acts[i] < 1.0) ? carry[i] * dt : 0.0;
        break;
    case RELU:
        for (long i = 0; i < n; i++) grad_pre[i] = acts[i] > 0.0 ? carry[i] * dt : 0.0;
        break;
    default:
        for (long i = 0; i < n; i++) grad_pre[i] = carry[i] * dt;
        break;
    }
}

/* h += dt * a: the state update. Not inlined, so that the backward pass recomputes the forward's states
   with the very same instructions (bit for bit) instead of storing them. */
__attribute__((noinline)) static void accumulate(double *restrict h, const double *restrict acts, double dt, long n) {
    for (long i = 0; i < n; i++) h[i] += dt * acts[i];
}

/* Keep the padded lanes m..w of `rows` rows exactly zero: an infinite real lane times a zero weight would
   otherwise put NaN there, and from there into real lanes through the products. */
static void clear_padding(double *values, int rows, int m, int w) {
    for (int r = 0; r < rows; r++)
        for (int j = m; j < w; j++) values[(long)r * w + j] = 0.0;
}

/* One member's parameters, zero-padded to width w: U, bias, c, the diagonal of M (w each), M and its
   transpose (w x w). */
typedef struct {
    double *U, *bias, *c, *diagonal, *M, *transposed, c0;
} Padded;

static void pad_member(const Problem *p, int e, Padded *out) {
    const int m = p->m, w = padded(m);
    memset(out->U, 0, sizeof(double) * (4L * w + 2L * w * w));
    const double *M = p->feedback + (long)e * feedback_size(p);
    for (int j = 0; j < m; j++) {
        out->U[j] = p->U ? p->U[(long)e * m + j] : 0.0;
        out->bias[j] = p->bias ? p->bias[(long)e * m + j] : 0.0;
        out->c[j] = p->c[(long)e * m + j];
        out->diagonal[j] = p->diagonal ? M[j] : M[(long)j * m + j];
    }
    for (int i = 0; i < m; i++)
        for (int j = 0; j < m; j++) {
            const double value = p->diagonal ? (i == j ? M[i] : 0.0) : M[(long)i * m + j];
            out->M[(long)i * w + j] = value;
            out->transposed[(long)j * w + i] = value;
        }
    out->c0 = p->c0 ? p->c0[e] : 0.0;
}

/* Where the activations of member e's item from row `first` at step k lie: each item's T steps of BLOCK x
   padded(m) values are contiguous, so the forward pass writes them in place and both passes stream them. */
static long storage_offset(const Problem *p, int e, int k, int first) {
    return (((long)e * blocks(p) + first / BLOCK) * p->T + k) * BLOCK * padded(p->m);
}

/* The time loop of one item; sigma(pre) of each step goes to `scratch`, or in place to the activations kept
   for the backward pass when there is no scratch. */
static void forward_item(const Problem *p, int e, int first, int rows, const Padded *parameters,
                         double *restrict h, double *scratch) {
    const int w = padded(p->m), T = p->T;
    const double *restrict U = parameters->U, *restrict bias = parameters->bias, *restrict c = parameters->c;
    const double *restrict g = parameters->diagonal, dt = p->dt;
    const int computed = span(rows);
    memset(h, 0, sizeof(double) * BLOCK * w);
    for (int k = 0; k < T; k++) {
        double *restrict pre = scratch ? scratch : p->acts + storage_offset(p, e, k, first);
        for (int r = 0; r < computed; r++) {
            const double xr = r < rows ? p->x[(long)(first + r) * T + k] : 0.0;
            double *restrict pr = pre + r * w;
            const double *restrict hr = h + r * w;
            for (int j = 0; j < w; j += LANES) {
                const lanes drive = xr * load(U + j) + load(bias + j);
                store(pr + j, p->diagonal ? drive - load(hr + j) * load(g + j) : drive);
            }
        }
        if (!p->diagonal) subtract_product(pre, h, parameters->M, computed, w, w);
        clear_padding(pre, computed, p->m, w);
        activate(p->activation, pre, (long)computed * w);
        accumulate(h, pre, dt, (long)computed * w);
        for (int r = 0; r < rows; r++) { /* c . h summed lane-wise, then over the lanes in order */
            const double *restrict hr = h + r * w;
            lanes sum = load(c) * load(hr);
            for (int j = LANES; j < w; j += LANES) sum += load(c + j) * load(hr + j);
            p->y[((long)e * p->B + first + r) * T + k] = lane_sum(sum) + parameters->c0;
        }
    }
}

/* forward_item for passes that keep no activations (evaluation, perturbed ensembles), with the item's rows in
   the lanes of vectors (GROUPS vectors per unit) instead of its units. Each output is the same sum in the same
   order, so the outputs are forward_item's bit for bit; but c . h needs no sum across a vector's lanes (which
   cost as much as the recurrent product at width 16) and a step's values stay in a few kilobytes. The items are
   forward_item's; one of fewer than LANES rows takes forward_item. */
enum { GROUPS = BLOCK / LANES };

/* Lanes of work that forward_item_lanes takes: the inputs and the outputs (T each), h and sigma(pre) (w each),
   per group. */
static long forward_lanes_size(int T, int w) { return GROUPS * (T + 2L * w + padded(T)); }

static void forward_item_lanes(const Problem *p, int e, int first, int rows, const Padded *parameters,
                               lanes *restrict work) {
    const int m = p->m, w = padded(m), T = p->T, Tp = padded(T);
    const double *restrict U = parameters->U, *restrict bias = parameters->bias, *restrict c = parameters->c;
    const double *restrict g = parameters->diagonal, *restrict M = parameters->M, dt = p->dt;
    lanes *restrict xs = work, *restrict h = xs + GROUPS * T, *restrict pre = h + GROUPS * w;
    lanes *restrict ys = pre + GROUPS * w; /* unit j of group q: h[j * GROUPS + q]; step k: xs[q * T + k] */
    const lanes zero = {0};
    for (int group = 0; group < GROUPS; group++) { /* a group past the item's rows reads nothing: zeros */
        const int height = rows - group * LANES;
        rows_in_lanes(p->x + (long)(first + (height > 0 ? group * LANES : 0)) * T, height, T, xs + group * T);
    }
    memset(h, 0, sizeof(lanes) * GROUPS * w);
    for (int k = 0; k < T; k++) {
        for (int j = 0; j < w; j += LANES) { /* units j..j+7 of every group: LANES x GROUPS sums over i in order */
            lanes sum[LANES][GROUPS];
            for (int q = 0; q < LANES; q++)
                for (int group = 0; group < GROUPS; group++) sum[q][group] = zero;
            if (!p->diagonal)
                for (int i = 0; i < w; i++)
                    for (int q = 0; q < LANES; q++)
                        for (int group = 0; group < GROUPS; group++)
                            sum[q][group] += M[(long)i * w + j + q] * h[i * GROUPS + group];
            for (int q = 0; q < LANES; q++)
                for (int group = 0; group < GROUPS; group++) {
                    const lanes drive = xs[group * T + k] * U[j + q] + bias[j + q];
                    const lanes value = p->diagonal ? drive - h[(j + q) * GROUPS + group] * g[j + q]
                                                    : drive - sum[q][group];
                    pre[(j + q) * GROUPS + group] = j + q < m ? value : zero; /* padded units stay zero */
                }
        }
        activate(p->activation, (double *)pre, (long)GROUPS * w * LANES);
        for (int i = 0; i < GROUPS * w; i++) h[i] += dt * pre[i];
        for (int group = 0; group < GROUPS; group++) { /* forward_item's c . h: per lane q over j = q mod LANES, */
            lanes total = zero;                          /* then over q */
            for (int q = 0; q < LANES; q++) {
                lanes sum = zero;
                for (int j = q; j < w; j += LANES) sum += c[j] * h[j * GROUPS + group];
                total += sum;
            }
            ys[group * Tp + k] = total + parameters->c0;
        }
    }
    for (int r = 0; r < rows; r++)
        for (int k = 0; k < T; k++) p->y[((long)e * p->B + first + r) * T + k] = ys[r / LANES * Tp + k][r % LANES];
}

static void backward_item(const Problem *p, int e, int first, int rows, const Padded *parameters,
                          double *restrict carry, double *restrict grad_pre, double *restrict gradient_M,
                          double *restrict padded_gradients, double *restrict history, double *partial) {
    const int m = p->m, w = padded(m), T = p->T, computed = span(rows);
    const long slab = (long)BLOCK * w;
    const double *restrict c = parameters->c, *restrict g = parameters->diagonal;
    double *restrict gU = padded_gradients, *restrict gb = gU + w, *restrict gc = gb + w, gc0 = 0.0;
    memset(padded_gradients, 0, sizeof(double) * 3 * w);
    memset(carry, 0, sizeof(double) * slab);
    memset(gradient_M, 0, sizeof(double) * w * w);
    memset(history, 0, sizeof(double) * slab); /* history[k] = h_{k+1} of this block, recomputed from acts */
    for (int k = 0; k < T; k++) { /* rows past the batch stay zero: the products below read them */
        if (k > 0) memcpy(history + k * slab, history + (k - 1) * slab, sizeof(double) * computed * w);
        accumulate(history + k * slab, p->acts + storage_offset(p, e, k, first), p->dt, (long)rows * w);
    }
    for (int k = T - 1; k >= 0; k--) {
        const double *restrict states = history + k * slab;
        const double *restrict acts = p->acts + storage_offset(p, e, k, first);
        double gy[BLOCK], xs[BLOCK]; /* this step's output gradients and inputs of the rows */
        for (int r = 0; r < rows; r++) {
            gy[r] = p->grad_y[((long)e * p->B + first + r) * T + k];
            xs[r] = p->x[(long)(first + r) * T + k];
            gc0 += gy[r];
        }
        for (int j = 0; j < w; j += LANES) { /* each sum over the rows in order */
            lanes sum = load(gc + j);
            const lanes cj = load(c + j);
            for (int r = 0; r < rows; r++) {
                sum += gy[r] * load(states + r * w + j);
                store(carry + r * w + j, load(carry + r * w + j) + gy[r] * cj);
            }
            store(gc + j, sum);
        }
        activation_gradient(p->activation, p->dt, carry, acts, grad_pre, (long)rows * w);
        memset(grad_pre + (long)rows * w, 0, sizeof(double) * (computed - rows) * w); /* rows past the batch */
        clear_padding(grad_pre, rows, m, w);
        for (int j = 0; j < w; j += LANES) {
            lanes sum_U = load(gU + j), sum_b = load(gb + j);
            for (int r = 0; r < rows; r++) {
                const lanes gr = load(grad_pre + r * w + j);
                sum_U += gr * xs[r];
                sum_b += gr;
            }
            store(gU + j, sum_U);
            store(gb + j, sum_b);
        }
        if (k == 0) break;
        const double *restrict h = states - slab; /* h_k */
        /* dL/dM = -h_k^T grad_pre, dL/dh_k = -grad_pre M^T */
        if (p->diagonal) {
            for (int j = 0; j < w; j += LANES) {
                lanes sum = load(gradient_M + j);
                const lanes gj = load(g + j);
                for (int r = 0; r < rows; r++) {
                    const lanes gr = load(grad_pre + r * w + j);
                    sum -= load(h + r * w + j) * gr;
                    store(carry + r * w + j, load(carry + r * w + j) - gr * gj);
                }
                store(gradient_M + j, sum);
            }
        } else {
            subtract_transposed_product(gradient_M, h, grad_pre, w, computed, w);
            subtract_product(carry, grad_pre, parameters->transposed, computed, w, w);
        }
    }
    double *gU_out = partial, *gb_out = gU_out + m, *gM_out = gb_out + m, *gc_out = gM_out + feedback_size(p);
    for (int j = 0; j < m; j++) gU_out[j] += gU[j], gb_out[j] += gb[j], gc_out[j] += gc[j];
    gc_out[m] += gc0;
    for (int i = 0; i < m; i++) {
        if (p->diagonal) gM_out[i] += gradient_M[i];
        else
            for (int j = 0; j < m; j++) gM_out[(long)i * m + j] += gradient_M[(long)i * w + j];
    }
}

/* The items of one thread; returns nonzero when its scratch memory cannot be allocated. */
static int run_items(const Problem *p, int backward, int thread, int threads) {
    const long w = padded(p->m), slab = (long)BLOCK * w;
    const long history = backward ? p->T * slab : 0, lanes_work = LANES * forward_lanes_size(p->T, w);
    const long work_size = 2 * slab + 3 * w + w * w + history;
    const long size = sizeof(double) * (4 * w + 2 * w * w + (work_size > lanes_work ? work_size : lanes_work));
    double *scratch = aligned_alloc(64, (size + 63) / 64 * 64);
    if (!scratch) return 1;
    Padded parameters = {scratch, scratch + w, scratch + 2 * w, scratch + 3 * w, scratch + 4 * w,
                         scratch + 4 * w + w * w, 0.0};
    double *work = scratch + 4 * w + 2 * w * w;
    int loaded = -1;
    for (int item = thread; item < p->E * blocks(p); item += threads) {
        const int e = item / blocks(p), first = (item % blocks(p)) * BLOCK;
        const int rows = p->B - first < BLOCK ? p->B - first : BLOCK;
        if (e != loaded) pad_member(p, e, &parameters), loaded = e;
        if (backward)
            backward_item(p, e, first, rows, &parameters, work, work + slab, work + 2 * slab,
                          work + 2 * slab + w * w, work + 2 * slab + w * w + 3 * w,
                          p->partials + (long)item * partial_size(p));
        else if (!p->acts && rows >= LANES)
            forward_item_lanes(p, e, first, rows, &parameters, (lanes *)work);
        else
            forward_item(p, e, first, rows, &parameters, work, p->acts ? NULL : work + slab);
        if (!backward && p->loss) loss_rows(p->loss, p->B, p->T, p->y, (long)e * p->B + first, rows);
    }
    free(scratch);
    return 0;
}

/* Items are dealt to threads round-robin. With OpenMP the threads are those of the OpenMP runtime that
   torch has loaded (same soname), so they are torch's own intra-op threads, not extra ones. */
static int run(const Problem *p, int backward) {
    int failed = 0;
    const int threads = p->nthreads < 1 ? 1 : p->nthreads;
#ifdef _OPENMP
#pragma omp parallel num_threads(threads) reduction(| : failed)
    failed |= run_items(p, backward, omp_get_thread_num(), omp_get_num_threads());
#else
    (void)threads;
    failed = run_items(p, backward, 0, 1);
#endif
    if (backward) /* sum each member's items into its first item, in item order */
        for (int e = 0; e < p->E; e++) {
            double *total = p->partials + (long)e * blocks(p) * partial_size(p);
            for (int item = 1; item < blocks(p); item++)
                for (long i = 0; i < partial_size(p); i++) total[i] += total[item * partial_size(p) + i];
        }
    return failed;
}

/* Outputs y (E, B, T); `acts`, when not NULL, keeps the activations for recurrence_backward. With a `target`
   (B, T), also the training loss of y and its gradient (see weighted_squared_error), in the same call: each item's
   rows as soon as the item's outputs are done. */
int recurrence_forward(int E, int B, int T, int m, int activation, int diagonal, double dt, const double *x,
                       const double *U, const double *bias, const double *feedback, const double *c,
                       const double *c0, double *y, double *acts, const double *target, const double *w2,
                       double *grad_y, double *losses, int nthreads) {
    const Loss loss = {target, w2, grad_y, target ? malloc(sizeof(double) * E * B) : NULL};
    if (target && !loss.rows) return 1;
    const Problem p = {E, B, T, m, activation, diagonal, nthreads, dt, x, U, bias, feedback, c, c0, NULL,
                       y, acts, NULL, target ? &loss : NULL};
    const int failed = run(&p, 0);
    if (target) member_losses(&loss, E, B, T, losses);
    return failed;
}

/* Gradients (E, partial size: U, bias, M, c, c0) from grad_y (E, B, T) and the activations recurrence_forward
   kept: one partial row per item, each member's summed in item order. */
int recurrence_backward(int E, int B, int T, int m, int activation, int diagonal, double dt, const double *x,
                        const double *feedback, const double *c, const double *grad_y, const double *acts,
                        double *gradients, int nthreads) {
    Problem p = {E, B, T, m, activation, diagonal, nthreads, dt, x, NULL, NULL, feedback, c, NULL,
                 grad_y, NULL, (double *)acts, NULL, NULL};
    const long size = partial_size(&p);
    p.partials = calloc((long)E * blocks(&p) * size, sizeof(double));
    if (!p.partials) return 1;
    const int failed = run(&p, 1);
    for (int e = 0; e < E; e++)
        memcpy(gradients + e * size, p.partials + (long)e * blocks(&p) * size, sizeof(double) * size);
    free(p.partials);
    return failed;
}

/* ---- The linear recurrence (sigma = identity) as a causal convolution ----

   y_k = sum_{j<=k} g_j x_{k-j} + sum_{j<=k} r_j + c0, with the kernels g_j = dt c.A^j U and r_j = dt c.A^j b
   (A = I - dt M): the responses of the recurrence to a unit impulse entering through U and through b, computed
   by the time loop above on 2E one-sequence members (members < E: U; members >= E: b in U's place, no bias). */

typedef struct {
    Problem p;
    double *buffer; /* the impulse, [U; b], [M; M], [c; c] */
} Impulse;

/* The 2E-member impulse problem of E parameter sets (U and bias may be NULL: the backward pass needs neither). */
static int impulse_problem(const Problem *p, Impulse *out) {
    const int E = p->E, T = p->T, m = p->m;
    const long size = feedback_size(p);
    double *buffer = calloc(T + 2L * E * (2L * m + size), sizeof(double));
    if (!buffer) return 1;
    double *impulse = buffer, *drive = impulse + T, *feedback = drive + 2L * E * m, *c = feedback + 2L * E * size;
    impulse[0] = 1.0;
    if (p->U) memcpy(drive, p->U, sizeof(double) * E * m), memcpy(drive + (long)E * m, p->bias, sizeof(double) * E * m);
    for (int copy = 0; copy < 2; copy++) {
        memcpy(feedback + copy * E * size, p->feedback, sizeof(double) * E * size);
        memcpy(c + (long)copy * E * m, p->c, sizeof(double) * E * m);
    }
    out->buffer = buffer;
    out->p = (Problem){2 * E, 1, T, m, LINEAR, p->diagonal, p->nthreads, p->dt, impulse, drive, NULL, feedback, c,
                       NULL, NULL, NULL, p->acts, NULL, NULL};
    return 0;
}

/* The windows of the kernel g (T values) that the convolution multiplies by: window e (e = 0 .. padded(T) + 2
   LANES - 1) holds g[e - 2 LANES .. e - 1] (zero outside 0..T-1), so that the two aligned loads at window e are
   the kernel values of sixteen consecutive outputs. `windows` is 64-byte aligned. */
static long windows_size(int T) { return (padded(T) + 2L * LANES) * 2 * LANES; }

static void kernel_windows(const double *g, int T, double *restrict windows) {
    for (long e = 0; e < windows_size(T) / (2 * LANES); e++)
        for (int l = 0; l < 2 * LANES; l++) {
            const long d = e - 2 * LANES + l;
            windows[e * 2 * LANES + l] = d >= 0 && d < T ? g[d] : 0.0;
        }
}

/* Rows of x per block of convolve_rows: eight rows by two vectors of outputs are sixteen independent sums,
   enough to keep both multiply-add units busy through the operation's latency. */
enum { HEIGHT = 2 * ROWS };

/* The outputs K .. K + LANES * groups - 1 of HEIGHT rows (each summed over i = top .. 0 in order) into out (row
   q at out + q * stride), the kernel's windows read from `kernel` on: see convolve_rows. */
static inline __attribute__((always_inline)) void convolve_block(const double *const row[HEIGHT], int top,
                                                                  const double *restrict kernel, int groups,
                                                                  double *restrict out, long stride) {
    lanes sum[2][HEIGHT] = {{{0}}};
    for (int i = top; i >= 0; i--, kernel += 2 * LANES) {
        lanes window[2];
        for (int g = 0; g < groups; g++) window[g] = load(kernel + g * LANES);
        for (int q = 0; q < HEIGHT; q++)
            for (int g = 0; g < groups; g++) sum[g][q] += row[q][i] * window[g];
    }
    for (int q = 0; q < HEIGHT; q++)
        for (int g = 0; g < groups; g++) store(out + q * stride + g * LANES, sum[g][q]);
}

/* y[b, k] = sum_{j<=k} g[j] x[b, k-j] + offset[k] for `rows` rows: for sixteen k at once (two groups of eight;
   one group where fewer than nine are left), x[b, i] broadcast for i from the group's last k down to 0 times
   g[k-i..] from the windows (window K - i + 2 LANES: aligned loads, the pointer stepping by one window), HEIGHT
   rows sharing each kernel load. Each y[b, k] is summed over j = k - i in order. */
static void convolve_rows(const double *x, int rows, int T, const double *restrict windows,
                          const double *restrict offset, double *y, double *scratch) {
    const int Tp = padded(T);
    const long stride = Tp + LANES;
    double *restrict out = scratch, *restrict zeros = scratch + HEIGHT * stride;
    memset(zeros, 0, sizeof(double) * T);
    for (int first = 0; first < rows; first += HEIGHT) {
        const int height = rows - first < HEIGHT ? rows - first : HEIGHT;
        const double *row[HEIGHT];
        for (int q = 0; q < HEIGHT; q++) row[q] = q < height ? x + (long)(first + q) * T : zeros;
        for (int K = 0; K < Tp; K += 2 * LANES) {
            const int top = K + 2 * LANES - 1 < T - 1 ? K + 2 * LANES - 1 : T - 1;
            const double *kernel = windows + (long)(K - top + 2 * LANES) * 2 * LANES;
            if (T - K > LANES) convolve_block(row, top, kernel, 2, out + K, stride);
            else convolve_block(row, top, kernel, 1, out + K, stride);
        }
        for (int q = 0; q < height; q++)
            for (int k = 0; k < T; k++) y[(long)(first + q) * T + k] = out[q * stride + k] + offset[k];
    }
}

/* Lanes per call of correlate_rows's scratch (64-byte aligned). */
static long correlation_scratch(int T) { return LANES + 3L * T + padded(T); }

/* For `rows` rows: gradient[j] += sum_b sum_{k>=j} grad_y[b, k] x[b, k-j] (the kernel's gradient; j < padded T)
   and column[k] += sum_b grad_y[b, k]. Eight rows at a time in the lanes of a vector (both arrays transposed,
   x after eight zero vectors, so that x[b, k-j] for eight lags j = J..J+7 are eight aligned loads and no lag
   needs a test): eight sums for eight lags. Each lane sums its rows over k in order; the lanes are summed last,
   in order. */
static void correlate_rows(const double *x, const double *grad_y, int rows, int T, double *restrict gradient,
                           double *restrict column, lanes *restrict scratch) {
    const int Tp = padded(T);
    lanes *restrict xt = scratch, *restrict gt = xt + LANES + T;
    lanes *restrict columns = gt + T, *restrict lags = columns + T;
    memset(xt, 0, sizeof(lanes) * LANES);
    memset(columns, 0, sizeof(lanes) * (T + Tp));
    for (int first = 0; first < rows; first += LANES) {
        const int height = rows - first < LANES ? rows - first : LANES;
        rows_in_lanes(x + (long)first * T, height, T, xt + LANES);
        rows_in_lanes(grad_y + (long)first * T, height, T, gt);
        for (int k = 0; k < T; k++) columns[k] += gt[k];
        for (int J = 0; J < Tp; J += LANES) {
            lanes sum[LANES] = {{0}};
            for (int k = J; k < T; k++) {
                const lanes g = gt[k], *window = xt + LANES + k - J; /* window[-t]: x at k - (J + t) */
                for (int t = 0; t < LANES; t++) sum[t] += g * window[-t];
            }
            for (int t = 0; t < LANES; t++) lags[J + t] += sum[t];
        }
    }
    for (int j = 0; j < Tp; j++) gradient[j] += lane_sum(lags[j]);
    for (int k = 0; k < T; k++) column[k] += lane_sum(columns[k]);
}

/* Outputs y (E, B, T) of the linear recurrence, through its kernels (2E, T: g for members < E, r after); `acts`
   (recurrence_activations_size(2E, 1, T, m) values), when not NULL, keeps the impulse responses' activations
   for linear_backward. With a `target`, also the training loss, as recurrence_forward. */
int linear_forward(int E, int B, int T, int m, int diagonal, double dt, const double *x, const double *U,
                   const double *bias, const double *feedback, const double *c, const double *c0, double *y,
                   double *acts, const double *target, const double *w2, double *grad_y, double *losses,
                   int nthreads) {
    const Problem p = {E, B, T, m, LINEAR, diagonal, nthreads, dt, x, U, bias, feedback, c, c0, NULL, y, acts, NULL,
                       NULL};
    Impulse impulse;
    if (impulse_problem(&p, &impulse)) return 1;
    double *kernels = malloc(sizeof(double) * 3 * E * T); /* then the offsets sum_{j<=k} r_j + c0 */
    const Loss loss = {target, w2, grad_y, target ? malloc(sizeof(double) * E * B) : NULL};
    impulse.p.y = kernels;
    int failed = !kernels || (target && !loss.rows) || run(&impulse.p, 0);
    free(impulse.buffer);
    if (failed) {
        free(kernels);
        free(loss.rows);
        return 1;
    }
    const int Tp = padded(T), threads = nthreads < 1 ? 1 : nthreads;
    double *offsets = kernels + 2L * E * T;
    for (int e = 0; e < E; e++) {
        double total = c0[e];
        for (int k = 0; k < T; k++) offsets[(long)e * T + k] = total += kernels[(long)(E + e) * T + k];
    }
#pragma omp parallel num_threads(threads) reduction(| : failed)
    {
        const long windows = windows_size(T), size = windows + HEIGHT * (Tp + LANES) + T;
        double *scratch = aligned_alloc(64, (sizeof(double) * size + 63) / 64 * 64);
        failed |= !scratch;
        int loaded = -1;
#pragma omp for schedule(static)
        for (int item = 0; item < E * blocks(&p); item++) {
            const int e = item / blocks(&p), first = (item % blocks(&p)) * BLOCK;
            const int rows = B - first < BLOCK ? B - first : BLOCK;
            if (!scratch) continue;
            if (e != loaded) kernel_windows(kernels + (long)e * T, T, scratch), loaded = e;
            convolve_rows(x + (long)first * T, rows, T, scratch, offsets + (long)e * T, y + ((long)e * B + first) * T,
                          scratch + windows);
            if (target) loss_rows(&loss, B, T, y, (long)e * B + first, rows);
        }
        free(scratch);
    }
    free(kernels);
    if (target) member_losses(&loss, E, B, T, losses);
    return failed;
}

/* Gradients (E, partial size: U, bias, M, c, c0) of the linear recurrence from grad_y (E, B, T) and the
   activations linear_forward kept: the kernels' gradients by correlation, then the impulse problem's backward. */
int linear_backward(int E, int B, int T, int m, int diagonal, double dt, const double *x, const double *feedback,
                    const double *c, const double *grad_y, const double *acts, double *gradients, int nthreads) {
    const Problem p = {E, B, T, m, LINEAR, diagonal, nthreads, dt, x, NULL, NULL, feedback, c, NULL, grad_y,
                       NULL, (double *)acts, NULL, NULL};
    const int Tp = padded(T), threads = nthreads < 1 ? 1 : nthreads, items = E * blocks(&p);
    const long per_item = Tp + T, size = partial_size(&p);
    Impulse impulse;
    if (impulse_problem(&p, &impulse)) return 1;
    double *sums = calloc(items * per_item + 2L * E * T + 2L * E * size, sizeof(double));
    if (!sums) return free(impulse.buffer), 1;
    double *responses = sums + items * per_item, *partials = responses + 2L * E * T; /* grad of [g; r] */
    int failed = 0;
#pragma omp parallel num_threads(threads) reduction(| : failed)
    {
        lanes *scratch = aligned_alloc(64, sizeof(lanes) * correlation_scratch(T));
        failed |= !scratch;
#pragma omp for schedule(static)
        for (int item = 0; item < items; item++) {
            const int e = item / blocks(&p), first = (item % blocks(&p)) * BLOCK;
            const int rows = B - first < BLOCK ? B - first : BLOCK;
            double *gradient = sums + item * per_item;
            if (scratch)
                correlate_rows(x + (long)first * T, grad_y + ((long)e * B + first) * T, rows, T, gradient,
                               gradient + Tp, scratch);
        }
        free(scratch);
    }
    for (int item = 0; item < items; item++) { /* in item order: independent of the number of threads */
        const int e = item / blocks(&p);
        for (int k = 0; k < T; k++) {
            responses[(long)e * T + k] += sums[item * per_item + k];
            responses[(long)(E + e) * T + k] += sums[item * per_item + Tp + k];
        }
    }
    for (int e = 0; e < E; e++) { /* dL/dr_j = sum_{k>=j} column sums; dL/dc0 = their total */
        double *column = responses + (long)(E + e) * T, total = 0.0;
        for (int k = T - 1; k >= 0; k--) column[k] = total += column[k];
        gradients[e * size + size - 1] = total;
    }
    impulse.p.grad_y = responses;
    impulse.p.partials = partials;
    failed |= run(&impulse.p, 1);
    for (int e = 0; e < E; e++) { /* U's from the U-members, bias's from the b-members' U slot, M and c summed */
        const double *from_U = partials + (long)e * size, *from_b = partials + (long)(E + e) * size;
        double *out = gradients + (long)e * size;
        for (int j = 0; j < m; j++) out[j] = from_U[j], out[m + j] = from_b[j];
        for (long i = 2L * m; i < size - 1; i++) out[i] = from_U[i] + from_b[i];
    }
    free(impulse.buffer);
    free(sums);
    return failed;
}

/* ---- The training loss ----

   The temporally weighted squared error of E members' outputs y (E, B, T) against targets (B, T), in one pass:
   losses[e] = sum_{b,k} d scaled / n with d = y - target, scaled = d w2[k] and n = B T; `gradient` (when not
   NULL) receives its gradient scaled * (2 / n). Each row is summed over k in lanes, then the rows in order: the
   result does not depend on the number of threads. */
int weighted_squared_error(int E, int B, int T, const double *y, const double *target, const double *w2,
                           double *gradient, double *losses, int nthreads) {
    const Loss loss = {target, w2, gradient, malloc(sizeof(double) * E * B)};
    if (!loss.rows) return 1;
    const int threads = nthreads < 1 ? 1 : nthreads;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (long row = 0; row < (long)E * B; row++) loss_rows(&loss, B, T, y, row, 1);
    member_losses(&loss, E, B, T, losses);
    return 0;
}

/* The size (doubles) of the activations a forward pass keeps for the backward pass. */
long recurrence_activations_size(int E, int B, int T, int m) {
    return (long)E * ((B + BLOCK - 1) / BLOCK) * T * BLOCK * padded(m);
}

/* ---- The training step's closed-form backward through the rotated forms' W = P^T diag(g) P (models.py) ----

   P (m x m) is read through its strides in doubles (QR leaves it column-major); W and G = dL/dW are
   row-major. */

/* P copied row-major. */
static void row_major(int m, const double *P, long row_stride, long column_stride, double *restrict out) {
    for (int i = 0; i < m; i++)
        for (int j = 0; j < m; j++) out[i * m + j] = P[i * row_stride + j * column_stride];
}

/* The pullback through W = P^T diag(g) P of G = dL/dW plus `slope` v v^T (the smallest eigenvalue's gradient
   v v^T, scaled; v is not read when slope is 0): with S = G + G^T + 2 slope v v^T, dL/dP = diag(g) P S
   (written with P's strides) and dL/dg_i = (P S P^T)_ii / 2. */
int rotated_pullback(int m, const double *P, long row_stride, long column_stride, const double *g, const double *G,
                     double slope, const double *v, double *grad_P, double *grad_g) {
    double *rows = malloc(sizeof(double) * 3 * m * m);
    if (!rows) return 1;
    double *S = rows + m * m, *PS = S + m * m;
    row_major(m, P, row_stride, column_stride, rows);
    for (int i = 0; i < m; i++)
        for (int j = 0; j < m; j++)
            S[i * m + j] = G[i * m + j] + G[j * m + i] + (slope != 0.0 ? 2 * slope * v[i] * v[j] : 0.0);
    memset(PS, 0, sizeof(double) * m * m);
    for (int i = 0; i < m; i++)
        for (int k = 0; k < m; k++) {
            const double a = rows[i * m + k];
            for (int j = 0; j < m; j++) PS[i * m + j] += a * S[k * m + j];
        }
    for (int i = 0; i < m; i++) {
        double diagonal = 0.0;
        for (int k = 0; k < m; k++) {
            diagonal += PS[i * m + k] * rows[i * m + k];
            grad_P[i * row_stride + k * column_stride] = g[i] * PS[i * m + k];
        }
        grad_g[i] = diagonal / 2;
    }
    free(rows);
    return 0;
}

/* LAPACK's dsyevd (Fortran calling convention). */
typedef void syevd_function(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w,
                            double *work, const int *lwork, int *iwork, const int *liwork, int *info);

/* The smallest eigenvalue of the symmetric W (m x m, row-major; its lower triangle is read) and a unit
   eigenvector, by `syevd` (LAPACK's dsyevd) called as torch.linalg.eigh calls it on CPU: a column-major copy,
   the lower triangle, the workspace the query returns. So the vector is torch's, also at a repeated smallest
   eigenvalue, where any unit vector of the eigenspace would do. Returns LAPACK's info, or -1000 when out of
   memory. */
int smallest_eigenpair(int m, const double *W, void *syevd, double *value, double *vector) {
    syevd_function *solve = (syevd_function *)syevd;
    const int minus_one = -1;
    double *a = malloc(sizeof(double) * (m * m + m)), work_query = 0.0;
    int iwork_query = 0, info = 0;
    if (!a) return -1000;
    double *w = a + (long)m * m;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < m; j++) a[j * m + i] = W[i * m + j];
    solve("V", "L", &m, a, &m, w, &work_query, &minus_one, &iwork_query, &minus_one, &info);
    const int lwork = (int)work_query > 1 ? (int)work_query : 1, liwork = iwork_query > 1 ? iwork_query : 1;
    double *work = malloc(sizeof(double) * lwork);
    int *iwork = malloc(sizeof(int) * liwork);
    if (!work || !iwork) info = -1000;
    if (info == 0) solve("V", "L", &m, a, &m, w, work, &lwork, iwork, &liwork, &info);
    if (info == 0) *value = w[0], memcpy(vector, a, sizeof(double) * m);
    free(work), free(iwork), free(a);
    return info;
}
