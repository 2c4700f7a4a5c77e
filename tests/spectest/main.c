/*
 * main.c — build/spectest: runs the official WebAssembly spec tests (wabt's
 * JSON form of the .wast scripts) against the engine through the public
 * API only.
 *
 *   spectest [-v] [--filter SUBSTR] [--no-fork] [--timeout SECONDS] FILE.json...
 *
 * Prints each failure as "FILE:LINE: COMMAND: what was expected, what
 * happened", a line "NAME.json: N passed, N failed, N skipped" per script,
 * the reasons for skips, and last "N passed, N failed, N skipped" over all
 * scripts. Exits with 0 only if nothing failed.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "counts.h"
#include "isolate.h"
#include "run_file.h"

#define DEFAULT_TIMEOUT_SECONDS 120

typedef struct options {
    bool verbose;
    bool fork_each; /* run each script in its own process */
    unsigned timeout_seconds;
    const char *filter;
} options;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: spectest [options] FILE.json...\n"
            "  -v, --verbose          print trap-message mismatches, skips and spectest.print calls\n"
            "  --filter SUBSTR        run only the scripts whose file name contains SUBSTR\n"
            "  --fork                 run each script in a child process (the default): a crash\n"
            "                         or hang fails that script's remaining commands only\n"
            "  --no-fork              run the scripts in this process (for debugging)\n"
            "  --timeout SECONDS      per-script time limit with --fork (default %d, 0: none)\n",
            DEFAULT_TIMEOUT_SECONDS);
}

static bool parse_seconds(const char *s, unsigned *out)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (!*s || *end || s[0] == '-' || v > 86400 * 7) return false;
    *out = (unsigned)v;
    return true;
}

/* Returns the index of the first file, or -1 after printing why not. */
static int parse_options(int argc, char **argv, options *opt)
{
    enum { OPT_FILTER = 256, OPT_FORK, OPT_NO_FORK, OPT_TIMEOUT };
    static const struct option longopts[] = {
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"filter", required_argument, NULL, OPT_FILTER},
        {"fork", no_argument, NULL, OPT_FORK},
        {"no-fork", no_argument, NULL, OPT_NO_FORK},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {NULL, 0, NULL, 0},
    };
    *opt = (options){.fork_each = true, .timeout_seconds = DEFAULT_TIMEOUT_SECONDS};
    int c;
    while ((c = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
        switch (c) {
        case 'v': opt->verbose = true; break;
        case 'h': usage(stdout); exit(0);
        case OPT_FILTER: opt->filter = optarg; break;
        case OPT_FORK: opt->fork_each = true; break;
        case OPT_NO_FORK: opt->fork_each = false; break;
        case OPT_TIMEOUT:
            if (!parse_seconds(optarg, &opt->timeout_seconds)) {
                fprintf(stderr, "spectest: --timeout wants a number of seconds up to a week, not \"%s\"\n", optarg);
                return -1;
            }
            break;
        default: usage(stderr); return -1;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "spectest: no script given\n");
        usage(stderr);
        return -1;
    }
    return optind;
}

static const char *file_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static void print_summary(const spec_counts *total)
{
    for (int r = 0; r < SPEC_SKIP_REASON_COUNT; r++)
        if (total->skipped_by[r])
            printf("skipped %u: %s\n", total->skipped_by[r], spec_skip_reason_text((spec_skip_reason)r));
    printf("%u passed, %u failed, %u skipped\n", total->passed, total->failed, total->skipped);
}

int main(int argc, char **argv)
{
    options opt;
    int first = parse_options(argc, argv, &opt);
    if (first < 0) return 2;
    /* Failure lines must reach the output before a crash of a script's
     * process can take its buffer with it. */
    setvbuf(stdout, NULL, _IOLBF, 0);

    spec_counts total = {0};
    int scripts = 0;
    for (int i = first; i < argc; i++) {
        const char *name = file_name(argv[i]);
        if (opt.filter && !strstr(name, opt.filter)) continue;
        scripts++;
        spec_counts c = opt.fork_each ? spec_run_file_isolated(argv[i], opt.verbose, opt.timeout_seconds)
                                      : spec_run_file(argv[i], opt.verbose, NULL, NULL);
        printf("%s: %u passed, %u failed, %u skipped\n", name, c.passed, c.failed, c.skipped);
        spec_counts_add(&total, &c);
    }
    if (scripts == 0) {
        fprintf(stderr, "spectest: no script name contains \"%s\"\n", opt.filter);
        return 2;
    }
    print_summary(&total);
    return total.failed ? 1 : 0;
}
