/* nbody: gravitational n-body simulation of 16 bodies (symplectic Euler),
 * n steps — f64 arithmetic and square roots. The checksum is the final
 * energy scaled to an integer; IEEE doubles without fused multiply-add give
 * the same bits natively and in WebAssembly. */
#include "kernel.h"

#define BODIES 16
struct body { double x, y, z, vx, vy, vz, mass; };
static struct body bodies[BODIES];

static double energy(void)
{
    double e = 0.0;
    for (int i = 0; i < BODIES; i++) {
        struct body *b = &bodies[i];
        e += 0.5 * b->mass * (b->vx * b->vx + b->vy * b->vy + b->vz * b->vz);
        for (int j = i + 1; j < BODIES; j++) {
            double dx = b->x - bodies[j].x, dy = b->y - bodies[j].y, dz = b->z - bodies[j].z;
            e -= b->mass * bodies[j].mass / __builtin_sqrt(dx * dx + dy * dy + dz * dz);
        }
    }
    return e;
}

int32_t run(int32_t n)
{
    uint32_t seed = 88172645u;
    for (int i = 0; i < BODIES; i++) { /* a heavy centre and lighter bodies around it */
        struct body *b = &bodies[i];
        double r = 1.0 + i;
        b->x = r * ((double)(rng_next(&seed) % 2001) / 1000.0 - 1.0);
        b->y = r * ((double)(rng_next(&seed) % 2001) / 1000.0 - 1.0);
        b->z = 0.1 * r * ((double)(rng_next(&seed) % 2001) / 1000.0 - 1.0);
        b->vx = (double)(rng_next(&seed) % 2001) / 4000.0 - 0.25;
        b->vy = (double)(rng_next(&seed) % 2001) / 4000.0 - 0.25;
        b->vz = (double)(rng_next(&seed) % 2001) / 40000.0 - 0.025;
        b->mass = i == 0 ? 40.0 : 0.01 + (double)(rng_next(&seed) % 1000) / 10000.0;
    }
    bodies[0].x = bodies[0].y = bodies[0].z = 0.0;
    const double dt = 0.001;
    for (int32_t step = 0; step < n; step++) {
        for (int i = 0; i < BODIES; i++) {
            struct body *b = &bodies[i];
            for (int j = i + 1; j < BODIES; j++) {
                struct body *c = &bodies[j];
                double dx = b->x - c->x, dy = b->y - c->y, dz = b->z - c->z;
                double d2 = dx * dx + dy * dy + dz * dz + 0.01; /* softened */
                double mag = dt / (d2 * __builtin_sqrt(d2));
                b->vx -= dx * c->mass * mag;
                b->vy -= dy * c->mass * mag;
                b->vz -= dz * c->mass * mag;
                c->vx += dx * b->mass * mag;
                c->vy += dy * b->mass * mag;
                c->vz += dz * b->mass * mag;
            }
        }
        for (int i = 0; i < BODIES; i++) {
            struct body *b = &bodies[i];
            b->x += dt * b->vx;
            b->y += dt * b->vy;
            b->z += dt * b->vz;
        }
    }
    return (int32_t)(int64_t)(energy() * 1e9);
}
