/* matmul: 128x128 double-precision matrix multiply (i-k-j order), repeated
 * n times — f64 loads, multiplies and adds in nested loops. All values are
 * small multiples of 1/4 so every product and sum is exact and the checksum
 * is the same everywhere. */
#include "kernel.h"

#define DIM 128
static double a[DIM][DIM], b[DIM][DIM], c[DIM][DIM];

int32_t run(int32_t n)
{
    uint32_t check = 0;
    for (int i = 0; i < DIM; i++)
        for (int j = 0; j < DIM; j++) {
            a[i][j] = (double)((i * 3 + j) % 17) * 0.25;
            b[i][j] = (double)((i + j * 5) % 13) * 0.5;
        }
    for (int32_t rep = 0; rep < n; rep++) {
        a[rep % DIM][(rep * 7) % DIM] += 1.0;
        for (int i = 0; i < DIM; i++) {
            for (int j = 0; j < DIM; j++)
                c[i][j] = 0.0;
            for (int k = 0; k < DIM; k++) {
                double aik = a[i][k];
                for (int j = 0; j < DIM; j++)
                    c[i][j] += aik * b[k][j];
            }
        }
        double sum = 0.0;
        for (int i = 0; i < DIM; i++)
            sum += c[i][(i * 5) % DIM];
        check = check * 33 + (uint32_t)(int64_t)sum;
    }
    return (int32_t)check;
}
