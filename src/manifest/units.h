/*
 * units.h — strict parsers for the quantities a manifest holds: sizes in
 * bytes, CPU amounts in millicores and durations in milliseconds. They are
 * independent of YAML so the command line can use them too.
 *
 * Common rules: a number is decimal digits, optionally followed by '.' and
 * more digits (no sign, no exponent, no spaces, no leading '.'); the unit
 * follows without a space. A fraction is accepted only when the result is
 * a whole number of the base unit ("1.5GiB" yes, "1.5B" no).
 *
 * Each returns true and stores the value, or returns false and writes why
 * (a phrase that follows the quoted text, e.g. "has an unknown unit 'm'; ...")
 * into why[why_size].
 */
#ifndef QYVOL_MANIFEST_UNITS_H
#define QYVOL_MANIFEST_UNITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes: a bare number, or a number with one of
 *   B; kB k K KB (10^3); MB M (10^6); GB G (10^9); TB T (10^12);
 *   Ki KiB (2^10); Mi MiB (2^20); Gi GiB (2^30); Ti TiB (2^40).
 * Lowercase "m"/"mb"/"g"... are rejected: "128m" means MiB to Docker and
 * milli to Kubernetes. Zero is accepted here; callers set their minimum. */
bool qv_parse_size(const char *text, uint64_t *bytes, char *why, size_t why_size);

/* CPU: cores as a number ("0.5", "2") or millicores with 'm' ("500m"). The
 * result must be a whole number of millicores, more than 0, at most
 * UINT32_MAX. */
bool qv_parse_cpu(const char *text, uint32_t *millicores, char *why, size_t why_size);

/* Durations: one or more number+unit parts, units ms, s, m, h, largest
 * first and each at most once ("30s", "500ms", "1h30m", "1.5s"). A bare
 * number is rejected: "30" could mean seconds or milliseconds. The result
 * must be a whole number of milliseconds. Zero ("0s") is accepted here. */
bool qv_parse_duration(const char *text, uint64_t *ms, char *why, size_t why_size);

#endif
