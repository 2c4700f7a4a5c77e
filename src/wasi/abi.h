/*
 * abi.h — the WASI preview 1 ABI as the guest sees it: errno values, rights,
 * flags, and the byte layout of the structures the host writes into guest
 * memory (from the witx definitions of wasi_snapshot_preview1).
 */
#ifndef QYVOL_WASI_ABI_H
#define QYVOL_WASI_ABI_H

#include <stdint.h>

/* errno: the witx order, which is alphabetical. */
enum {
    W_ESUCCESS, W_E2BIG, W_EACCES, W_EADDRINUSE, W_EADDRNOTAVAIL, W_EAFNOSUPPORT, W_EAGAIN,
    W_EALREADY, W_EBADF, W_EBADMSG, W_EBUSY, W_ECANCELED, W_ECHILD, W_ECONNABORTED,
    W_ECONNREFUSED, W_ECONNRESET, W_EDEADLK, W_EDESTADDRREQ, W_EDOM, W_EDQUOT, W_EEXIST,
    W_EFAULT, W_EFBIG, W_EHOSTUNREACH, W_EIDRM, W_EILSEQ, W_EINPROGRESS, W_EINTR, W_EINVAL,
    W_EIO, W_EISCONN, W_EISDIR, W_ELOOP, W_EMFILE, W_EMLINK, W_EMSGSIZE, W_EMULTIHOP,
    W_ENAMETOOLONG, W_ENETDOWN, W_ENETRESET, W_ENETUNREACH, W_ENFILE, W_ENOBUFS, W_ENODEV,
    W_ENOENT, W_ENOEXEC, W_ENOLCK, W_ENOLINK, W_ENOMEM, W_ENOMSG, W_ENOPROTOOPT, W_ENOSPC,
    W_ENOSYS, W_ENOTCONN, W_ENOTDIR, W_ENOTEMPTY, W_ENOTRECOVERABLE, W_ENOTSOCK, W_ENOTSUP,
    W_ENOTTY, W_ENXIO, W_EOVERFLOW, W_EOWNERDEAD, W_EPERM, W_EPIPE, W_EPROTO,
    W_EPROTONOSUPPORT, W_EPROTOTYPE, W_ERANGE, W_EROFS, W_ESPIPE, W_ESRCH, W_ESTALE,
    W_ETIMEDOUT, W_ETXTBSY, W_EXDEV, W_ENOTCAPABLE,
};

/* rights */
#define R_FD_DATASYNC (1ull << 0)
#define R_FD_READ (1ull << 1)
#define R_FD_SEEK (1ull << 2)
#define R_FD_FDSTAT_SET_FLAGS (1ull << 3)
#define R_FD_SYNC (1ull << 4)
#define R_FD_TELL (1ull << 5)
#define R_FD_WRITE (1ull << 6)
#define R_FD_ADVISE (1ull << 7)
#define R_FD_ALLOCATE (1ull << 8)
#define R_PATH_CREATE_DIRECTORY (1ull << 9)
#define R_PATH_CREATE_FILE (1ull << 10)
#define R_PATH_LINK_SOURCE (1ull << 11)
#define R_PATH_LINK_TARGET (1ull << 12)
#define R_PATH_OPEN (1ull << 13)
#define R_FD_READDIR (1ull << 14)
#define R_PATH_READLINK (1ull << 15)
#define R_PATH_RENAME_SOURCE (1ull << 16)
#define R_PATH_RENAME_TARGET (1ull << 17)
#define R_PATH_FILESTAT_GET (1ull << 18)
#define R_PATH_FILESTAT_SET_SIZE (1ull << 19)
#define R_PATH_FILESTAT_SET_TIMES (1ull << 20)
#define R_FD_FILESTAT_GET (1ull << 21)
#define R_FD_FILESTAT_SET_SIZE (1ull << 22)
#define R_FD_FILESTAT_SET_TIMES (1ull << 23)
#define R_PATH_SYMLINK (1ull << 24)
#define R_PATH_REMOVE_DIRECTORY (1ull << 25)
#define R_PATH_UNLINK_FILE (1ull << 26)
#define R_POLL_FD_READWRITE (1ull << 27)
#define R_SOCK_SHUTDOWN (1ull << 28)
#define R_SOCK_ACCEPT (1ull << 29)
#define R_ALL ((1ull << 30) - 1)

/* What each kind of descriptor can ever do, split by the access a grant
 * gives: the host never hands out more, whatever the guest asks for. */
#define R_FILE_READ (R_FD_READ | R_FD_SEEK | R_FD_TELL | R_FD_ADVISE | R_FD_FILESTAT_GET | \
                     R_FD_FDSTAT_SET_FLAGS | R_POLL_FD_READWRITE | R_FD_SYNC | R_FD_DATASYNC)
#define R_FILE_WRITE (R_FD_WRITE | R_FD_SEEK | R_FD_TELL | R_FD_ADVISE | R_FD_FILESTAT_GET |   \
                      R_FD_FDSTAT_SET_FLAGS | R_POLL_FD_READWRITE | R_FD_SYNC | R_FD_DATASYNC | \
                      R_FD_ALLOCATE | R_FD_FILESTAT_SET_SIZE | R_FD_FILESTAT_SET_TIMES)
#define R_DIR_READ (R_PATH_OPEN | R_FD_READDIR | R_PATH_READLINK | R_PATH_FILESTAT_GET | \
                    R_FD_FILESTAT_GET | R_FD_FDSTAT_SET_FLAGS | R_FD_SYNC | R_FD_DATASYNC | R_FD_ADVISE)
#define R_DIR_WRITE (R_PATH_OPEN | R_PATH_CREATE_DIRECTORY | R_PATH_CREATE_FILE |                \
                     R_PATH_LINK_SOURCE | R_PATH_LINK_TARGET | R_PATH_RENAME_SOURCE |            \
                     R_PATH_RENAME_TARGET | R_PATH_FILESTAT_GET | R_PATH_FILESTAT_SET_SIZE |     \
                     R_PATH_FILESTAT_SET_TIMES | R_FD_FILESTAT_GET | R_FD_FILESTAT_SET_TIMES |   \
                     R_PATH_SYMLINK | R_PATH_REMOVE_DIRECTORY | R_PATH_UNLINK_FILE |             \
                     R_FD_FDSTAT_SET_FLAGS | R_FD_SYNC | R_FD_DATASYNC)
/* Rights that change a file or a directory's contents. */
#define R_MUTATING (R_FD_WRITE | R_FD_ALLOCATE | R_FD_FILESTAT_SET_SIZE | R_FD_FILESTAT_SET_TIMES | \
                    R_PATH_CREATE_DIRECTORY | R_PATH_CREATE_FILE | R_PATH_LINK_SOURCE |            \
                    R_PATH_LINK_TARGET | R_PATH_RENAME_SOURCE | R_PATH_RENAME_TARGET |             \
                    R_PATH_FILESTAT_SET_SIZE | R_PATH_FILESTAT_SET_TIMES | R_PATH_SYMLINK |        \
                    R_PATH_REMOVE_DIRECTORY | R_PATH_UNLINK_FILE)
#define R_STDIO (R_FD_READ | R_FD_WRITE | R_FD_FILESTAT_GET | R_FD_FDSTAT_SET_FLAGS | \
                 R_POLL_FD_READWRITE | R_FD_SYNC | R_FD_DATASYNC | R_FD_ADVISE)
#define R_SOCKET (R_FD_READ | R_FD_WRITE | R_FD_FILESTAT_GET | R_FD_FDSTAT_SET_FLAGS | \
                  R_POLL_FD_READWRITE | R_SOCK_SHUTDOWN | R_SOCK_ACCEPT)

/* filetype */
enum {
    W_FT_UNKNOWN, W_FT_BLOCK_DEVICE, W_FT_CHARACTER_DEVICE, W_FT_DIRECTORY, W_FT_REGULAR_FILE,
    W_FT_SOCKET_DGRAM, W_FT_SOCKET_STREAM, W_FT_SYMBOLIC_LINK,
};

enum { W_WHENCE_SET, W_WHENCE_CUR, W_WHENCE_END };
enum { W_CLOCK_REALTIME, W_CLOCK_MONOTONIC, W_CLOCK_PROCESS_CPUTIME, W_CLOCK_THREAD_CPUTIME };
enum { W_ADVICE_NORMAL, W_ADVICE_SEQUENTIAL, W_ADVICE_RANDOM, W_ADVICE_WILLNEED,
       W_ADVICE_DONTNEED, W_ADVICE_NOREUSE };

#define W_FDFLAG_APPEND 0x1
#define W_FDFLAG_DSYNC 0x2
#define W_FDFLAG_NONBLOCK 0x4
#define W_FDFLAG_RSYNC 0x8
#define W_FDFLAG_SYNC 0x10

#define W_FST_ATIM 0x1
#define W_FST_ATIM_NOW 0x2
#define W_FST_MTIM 0x4
#define W_FST_MTIM_NOW 0x8

#define W_LOOKUP_SYMLINK_FOLLOW 0x1

#define W_O_CREAT 0x1
#define W_O_DIRECTORY 0x2
#define W_O_EXCL 0x4
#define W_O_TRUNC 0x8

enum { W_EVENT_CLOCK, W_EVENT_FD_READ, W_EVENT_FD_WRITE };
#define W_EVENT_HANGUP 0x1
#define W_SUBCLOCK_ABSTIME 0x1

#define W_RECV_PEEK 0x1
#define W_RECV_WAITALL 0x2
#define W_RECV_DATA_TRUNCATED 0x1
#define W_SHUT_RD 0x1
#define W_SHUT_WR 0x2

#define W_PREOPEN_DIR 0

/* Structure sizes and field offsets in guest memory. */
#define W_IOVEC_SIZE 8
#define W_FDSTAT_SIZE 24     /* u8 filetype@0, u16 flags@2, u64 base@8, u64 inheriting@16 */
#define W_FILESTAT_SIZE 64   /* dev@0 ino@8 filetype(u8)@16 nlink@24 size@32 atim@40 mtim@48 ctim@56 */
#define W_FILESTAT_UNSTABLE_SIZE 56 /* wasi_unstable: nlink is u32@20, size@24 ... ctim@48 */
#define W_DIRENT_SIZE 24     /* next@0 ino@8 namlen(u32)@16 type(u8)@20 */
#define W_SUBSCRIPTION_SIZE 48 /* userdata@0 tag(u8)@8; clock: id@16 timeout@24 precision@32 flags(u16)@40; fd@16 */
#define W_SUBSCRIPTION_UNSTABLE_SIZE 56 /* wasi_unstable: identifier@16 id@24 timeout@32 precision@40 flags@48; fd@16 */
#define W_EVENT_SIZE 32      /* userdata@0 error(u16)@8 type(u8)@10 nbytes@16 flags(u16)@24 */
#define W_PRESTAT_SIZE 8     /* tag(u8)@0 name_len(u32)@4 */

#endif
