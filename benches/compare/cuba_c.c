/*
 * CUBA (Brette et al. 2007, benchmark 2) as one plain single-thread C loop: the reference
 * point "a C loop written for this benchmark" of issue 7, measured on the same machine as
 * Ember, Brian2 and NEST instead of quoted from another one.
 *
 * Same network and the same per-step arithmetic as Ember's scenarios/cuba.toml (f32):
 *   ge ← ge·exp(−Δt/τe), gi ← gi·exp(−Δt/τi), then the previous step's spikes add
 *   we = 1.62 (exc) / wi = −9 (inh) to their targets' ge / gi;
 *   x = ge + gi; r ← r − Δt (elapsed below 10⁻⁴·Δt); active neurons integrate
 *   v ← El + x + (v − El − x)·exp(−Δt/τm); v ≥ Vt spikes, v ← Vr, r ← 5 ms.
 * Connectivity is drawn with a different generator than Ember's, so spike counts agree in
 * rate, not spike by spike. Each population's current arrays are kept per neuron (ge, gi)
 * as Brian2 does, with one CSR table per pre neuron over all 4000 post neurons.
 *
 * Build: gcc -O3 -march=native -ffast-math -o cuba_c cuba_c.c -lm
 * Run:   ./cuba_c [N] [duration_ms]    prints one line:
 *        loop SECONDS spikes_exc K spikes_inh K synapses S
 * The harness (harness.py) compiles it into its work directory when gcc is there.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

/* splitmix64: a uniform double in [0, 1). */
static double uniform(void) {
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1.0p-53;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv) {
    const int n = argc > 1 ? atoi(argv[1]) : 4000;
    const double duration = argc > 2 ? atof(argv[2]) : 1000.0; /* ms */
    const int ne = n * 4 / 5;
    const float dt = 0.1f, el = -49.0f, vt = -50.0f, vr = -60.0f, refrac = 5.0f;
    const float de = expf(-dt / 5.0f), di = expf(-dt / 10.0f), dm = expf(-dt / 20.0f);
    const float we = 1.62f, wi = -9.0f;
    const double p = 80.0 / n;
    const long steps = lround(duration / dt);

    /* CSR over pre neurons, targets ascending, drawn by geometric skipping. */
    uint32_t *offsets = malloc(sizeof(uint32_t) * (size_t)(n + 1));
    size_t cap = (size_t)(n * 80.0 * 1.2) + 1024, len = 0;
    uint32_t *targets = malloc(sizeof(uint32_t) * cap);
    const double log_q = log1p(-p);
    for (int i = 0; i < n; i++) {
        offsets[i] = (uint32_t)len;
        for (long j = -1;;) {
            j += 1 + (long)floor(log(1.0 - uniform()) / log_q);
            if (j >= n) break;
            if (len == cap) targets = realloc(targets, sizeof(uint32_t) * (cap *= 2));
            targets[len++] = (uint32_t)j;
        }
    }
    offsets[n] = (uint32_t)len;

    float *v = malloc(sizeof(float) * n), *ge = calloc(n, sizeof(float));
    float *gi = calloc(n, sizeof(float)), *r = calloc(n, sizeof(float));
    uint8_t *flag = calloc(n, 1);
    uint32_t *spikes = malloc(sizeof(uint32_t) * n), *next = malloc(sizeof(uint32_t) * n);
    int count = 0;
    long total_exc = 0, total_inh = 0;
    for (int i = 0; i < n; i++) v[i] = vr + (float)uniform() * (vt - vr);

    const double t0 = now();
    for (long s = 0; s < steps; s++) {
        for (int i = 0; i < n; i++) {
            ge[i] *= de;
            gi[i] *= di;
        }
        for (int k = 0; k < count; k++) {
            const uint32_t i = spikes[k];
            float *g = i < (uint32_t)ne ? ge : gi;
            const float w = i < (uint32_t)ne ? we : wi;
            for (uint32_t a = offsets[i]; a < offsets[i + 1]; a++) g[targets[a]] += w;
        }
        for (int i = 0; i < n; i++) {
            const float x = ge[i] + gi[i];
            const float rm = r[i] - dt;
            const int active = rm < dt * 1e-4f;
            const float vi = active ? el + x + (v[i] - el - x) * dm : v[i];
            const int spike = active & (vi >= vt);
            v[i] = spike ? vr : vi;
            r[i] = spike ? refrac : (active ? 0.0f : rm);
            flag[i] = (uint8_t)spike;
        }
        int m = 0;
        for (int i = 0; i < n; i++)
            if (flag[i]) next[m++] = (uint32_t)i;
        uint32_t *t = spikes;
        spikes = next;
        next = t;
        count = m;
        for (int k = 0; k < m; k++) {
            if (spikes[k] < (uint32_t)ne) total_exc++;
            else total_inh++;
        }
    }
    const double loop = now() - t0;
    printf("loop %.6f spikes_exc %ld spikes_inh %ld synapses %zu\n", loop, total_exc, total_inh,
           len);
    return 0;
}
