/* protocheck.sources._clist: one folder of discovery's walk, listed in C (opendir/readdir and one fstatat per
 * regular file, relative to the open folder), loaded by discovery.py when built (optional, as _cwalk).
 *
 * Only the plain case is taken: regular files (name, size, mtime_ns) and real sub-folders. Names are skipped as
 * discovery skips them (the ignored names it hands over, and "._*"). Any other entry (a symbolic link, a device,
 * socket or pipe, an entry whose stat fails, a time beyond 64-bit nanoseconds) makes the call return None:
 * discovery then lists that folder with its Python code, the reference for every decision on what is not plain.
 * A folder that cannot be opened or read raises OSError (errno and path as os.open / os.scandir give them), which
 * discovery turns into its SkippedFile. Names decode as os.scandir decodes them (the file system encoding,
 * surrogateescape on POSIX) and come sorted as Python sorts str (code points; byte order when every name is
 * ASCII, the same order). tests/sources/test_clist.py compares both listings.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#if !defined(_WIN32)
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(DT_UNKNOWN)
#define ENTRY_TYPE(d) ((d)->d_type)
#else   /* a listing without entry types: each entry's stat tells */
#define DT_UNKNOWN 0
#define DT_DIR 4
#define DT_REG 8
#define ENTRY_TYPE(d) DT_UNKNOWN
#endif

#if defined(__APPLE__)
#define MTIME_NSEC(st) ((st).st_mtimespec.tv_nsec)
#define MTIME_SEC(st) ((st).st_mtimespec.tv_sec)
#else
#define MTIME_NSEC(st) ((st).st_mtim.tv_nsec)
#define MTIME_SEC(st) ((st).st_mtim.tv_sec)
#endif

typedef struct {
    size_t off;             /* the name's offset in the names buffer (then its pointer, once read) */
    const char *name;
    size_t len;
    int folder;             /* 1: a sub-folder, 0: a regular file */
    long long size, mtime_ns;
    PyObject *text;         /* the decoded name (sorting of non-ASCII names) */
} Entry;

typedef struct {
    Entry *items;
    size_t n, cap;
    char *names;
    size_t used, room;
    int ascii;              /* every name is ASCII: byte order is code point order */
    int odd;                /* an entry that is not plain: the Python listing decides */
    int error;              /* errno of a failed read of the folder, or 0 */
} Listing;

#define MAX_IGNORED 64

typedef struct {
    const char *name[MAX_IGNORED];
    size_t len[MAX_IGNORED];
    int n;
} Ignored;

static int ignored(const char *name, size_t len, const Ignored *skip)
{
    if (len >= 2 && name[0] == '.' && name[1] == '_')
        return 1;
    for (int i = 0; i < skip->n; i++)
        if (skip->len[i] == len && memcmp(skip->name[i], name, len) == 0)
            return 1;
    return 0;
}

static int grow(Listing *l, size_t len)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        Entry *items = realloc(l->items, cap * sizeof(Entry));
        if (items == NULL)
            return -1;
        l->items = items;
        l->cap = cap;
    }
    if (l->used + len + 1 > l->room) {
        size_t room = l->room ? l->room * 2 : 8192;
        while (room < l->used + len + 1)
            room *= 2;
        char *names = realloc(l->names, room);
        if (names == NULL)
            return -1;
        l->names = names;
        l->room = room;
    }
    return 0;
}

/* The mtime in ns as os.stat gives st_mtime_ns; 0 (an odd entry) if it does not fit in 64 bits. */
static int stat_entry(int dfd, const char *name, Entry *e, int *kind)
{
    struct stat st;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return -1;
    *kind = S_ISREG(st.st_mode) ? 0 : S_ISDIR(st.st_mode) ? 1 : -1;
    long long ns;
    if (__builtin_mul_overflow((long long)MTIME_SEC(st), 1000000000LL, &ns) ||
        __builtin_add_overflow(ns, (long long)MTIME_NSEC(st), &ns))
        return -1;
    e->size = (long long)st.st_size;
    e->mtime_ns = ns;
    return 0;
}

/* Read the folder (no Python object touched: called without the GIL). */
static void read_folder(DIR *dir, const Ignored *skip, int use_types, Listing *l)
{
    int dfd = dirfd(dir);
    for (;;) {
        errno = 0;
        struct dirent *d = readdir(dir);
        if (d == NULL) {
            l->error = errno;
            return;
        }
        const char *name = d->d_name;
        size_t len = strlen(name);
        if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
            continue;
        if (ignored(name, len, skip))
            continue;
        if (grow(l, len) < 0) {
            l->error = ENOMEM;
            return;
        }
        Entry *e = &l->items[l->n];
        int kind = -1, type = use_types ? ENTRY_TYPE(d) : DT_UNKNOWN;
        if (type == DT_DIR) {
            kind = 1;
        } else if (type == DT_REG || type == DT_UNKNOWN) {   /* unknown: the stat tells (as os.DirEntry) */
            if (stat_entry(dfd, name, e, &kind) != 0)
                kind = -1;
            else if (type == DT_REG)
                kind = 0;   /* as os.DirEntry: the type is the listing's, the stat gives size and time */
        }
        if (kind < 0) {
            l->odd = 1;
            return;
        }
        e->folder = kind;
        e->off = l->used;
        e->len = len;
        e->text = NULL;
        memcpy(l->names + l->used, name, len + 1);
        l->used += len + 1;
        for (size_t i = 0; i < len && l->ascii; i++)
            if ((unsigned char)name[i] >= 0x80)
                l->ascii = 0;
        l->n++;
    }
}

static int by_bytes(const void *a, const void *b)
{
    return strcmp(((const Entry *)a)->name, ((const Entry *)b)->name);
}

static int by_text(const void *a, const void *b)
{
    return PyUnicode_Compare(((const Entry *)a)->text, ((const Entry *)b)->text);
}

/* storage.listing.listing_bytes of the sorted files: their count, their names joined by NUL (the names' bytes: the
 * caller asks only where the file system encoding is UTF-8 with surrogateescape, whose round trip gives them back),
 * then the sizes and the times as native 64-bit ints. */
static PyObject *packed(const Listing *l)
{
    size_t n = 0, chars = 0;
    for (size_t i = 0; i < l->n; i++)
        if (!l->items[i].folder) {
            n++;
            chars += l->items[i].len + 1;
        }
    if (n == 0)
        return PyBytes_FromStringAndSize("\0", 1);
    char head[32];
    int h = snprintf(head, sizeof head, "%zu", n);
    PyObject *out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(h + 1 + chars + 16 * n));
    if (out == NULL)
        return NULL;
    char *p = PyBytes_AS_STRING(out);
    memcpy(p, head, (size_t)h + 1);   /* the count and its NUL */
    p += h + 1;
    char *sizes = p + chars, *times = sizes + 8 * n;
    for (size_t i = 0, k = 0; i < l->n; i++) {
        const Entry *e = &l->items[i];
        if (e->folder)
            continue;
        memcpy(p, e->name, e->len + 1);   /* the name, then NUL: a separator, and after the last the end mark */
        p += e->len + 1;
        memcpy(sizes + 8 * k, &e->size, 8);
        memcpy(times + 8 * k, &e->mtime_ns, 8);
        k++;
    }
    return out;
}

static PyObject *result(Listing *l, int pack)
{
    for (size_t i = 0; i < l->n; i++)
        l->items[i].name = l->names + l->items[i].off;
    if (!l->ascii) {
        for (size_t i = 0; i < l->n; i++) {
            Entry *e = &l->items[i];
            e->text = PyUnicode_DecodeFSDefaultAndSize(e->name, (Py_ssize_t)e->len);
            if (e->text == NULL)
                return NULL;
        }
    }
    qsort(l->items, l->n, sizeof(Entry), l->ascii ? by_bytes : by_text);
    PyObject *files = PyList_New(0), *folders = PyList_New(0);
    if (files == NULL || folders == NULL)
        goto fail;
    for (size_t i = 0; i < l->n; i++) {
        Entry *e = &l->items[i];
        PyObject *text = e->text;
        if (text == NULL)
            text = PyUnicode_DecodeFSDefaultAndSize(e->name, (Py_ssize_t)e->len);
        else
            Py_INCREF(text);
        if (text == NULL)
            goto fail;
        int bad;
        if (e->folder) {
            bad = PyList_Append(folders, text);
            Py_DECREF(text);
        } else {
            PyObject *t = PyTuple_New(3);
            if (t == NULL) {
                Py_DECREF(text);
                goto fail;
            }
            PyTuple_SET_ITEM(t, 0, text);
            PyObject *size = PyLong_FromLongLong(e->size), *ns = PyLong_FromLongLong(e->mtime_ns);
            PyTuple_SET_ITEM(t, 1, size);   /* a NULL item (no memory) is dropped with the tuple */
            PyTuple_SET_ITEM(t, 2, ns);
            bad = size == NULL || ns == NULL || PyList_Append(files, t);
            Py_DECREF(t);
        }
        if (bad)
            goto fail;
    }
    if (pack) {
        PyObject *bytes = packed(l);
        if (bytes == NULL)
            goto fail;
        return Py_BuildValue("(NNN)", files, folders, bytes);
    }
    return Py_BuildValue("(NN)", files, folders);
fail:
    Py_XDECREF(files);
    Py_XDECREF(folders);
    return NULL;
}

static PyObject *list_folder(PyObject *Py_UNUSED(self), PyObject *args)
{
    PyObject *path, *skip;
    int use_types = 1;   /* 0 (tests): every entry's type as if the file system gave none (DT_UNKNOWN) */
    int pack = 0;        /* 1: listing_bytes of the files too */
    if (!PyArg_ParseTuple(args, "O&O!|pp", PyUnicode_FSConverter, &path, &PyTuple_Type, &skip, &use_types, &pack))
        return NULL;
    Ignored names;
    names.n = (int)PyTuple_GET_SIZE(skip);
    for (int i = 0; i < names.n; i++) {
        PyObject *b = PyTuple_GET_ITEM(skip, i);
        if (names.n > MAX_IGNORED || !PyBytes_Check(b)) {
            Py_DECREF(path);
            return PyErr_Format(PyExc_TypeError, "list_folder: at most %d ignored names, as bytes", MAX_IGNORED);
        }
        names.name[i] = PyBytes_AS_STRING(b);
        names.len[i] = (size_t)PyBytes_GET_SIZE(b);
    }
    Listing l = {NULL, 0, 0, NULL, 0, 0, 1, 0, 0};
    int err = 0;
    DIR *dir = NULL;
    Py_BEGIN_ALLOW_THREADS
    int fd = open(PyBytes_AS_STRING(path), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        err = errno;
    } else if ((dir = fdopendir(fd)) == NULL) {
        err = errno;
        close(fd);
    } else {
        read_folder(dir, &names, use_types, &l);
        err = l.error;
        closedir(dir);
    }
    Py_END_ALLOW_THREADS
    PyObject *out = NULL;
    if (l.odd) {
        out = Py_NewRef(Py_None);
    } else if (err == ENOMEM) {
        out = PyErr_NoMemory();
    } else if (err != 0) {
        PyObject *name = PyUnicode_DecodeFSDefaultAndSize(PyBytes_AS_STRING(path), PyBytes_GET_SIZE(path));
        if (name != NULL) {
            errno = err;
            PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, name);
            Py_DECREF(name);
        }
    } else {
        out = result(&l, pack);
    }
    for (size_t i = 0; i < l.n; i++)
        Py_XDECREF(l.items[i].text);
    free(l.items);
    free(l.names);
    Py_DECREF(path);
    return out;
}

#else

static PyObject *list_folder(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(args))
{
    return Py_NewRef(Py_None);   /* not POSIX: discovery's Python listing */
}

#endif

static PyMethodDef methods[] = {
    {"list_folder", list_folder, METH_VARARGS,
     "discovery: (folder path, ignored names as bytes[, use the listing's entry types[, pack]]) -> "
     "(files as (name, size, mtime_ns), sub-folder names[, the files' listing_bytes if pack]), "
     "sorted by name; None when an entry is not a plain file or folder."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_clist", "Compiled folder listing of the walk.", -1,
                                    methods};

/* Raised whenever the function or its arguments change: discovery.py loads only the version it was written for. */
#define CLIST_VERSION 2

PyMODINIT_FUNC PyInit__clist(void)
{
    PyObject *m = PyModule_Create(&module);
    if (m != NULL && PyModule_AddIntConstant(m, "VERSION", CLIST_VERSION) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
