/* fastscan._walk, compiled (see _cwalk.c). */
#include "_cwalk.h"

/* ---- fastscan._walk ---- */

static int is_public(uint32_t tag)
{
    for (int i = 0; i < n_public; i++)
        if (PUBLIC[i] == tag)
            return 1;
    return 0;
}

static long get_long(PyObject *obj, const char *name)
{
    PyObject *v = PyObject_GetAttrString(obj, name);
    if (v == NULL)
        return -2;
    long out = PyLong_AsLong(v);
    Py_DECREF(v);
    if (out == -1 && PyErr_Occurred())
        return -2;
    return out;
}

/* Keep the element whose value ends at ``end`` (fastscan._keep_here); -1 on error. */
static int keep_here(PyObject *st, PyObject *raw, const unsigned char *b, long long base, uint32_t key, int vi,
                     long long length, long long end)
{
    PyObject *k = PyLong_FromUnsignedLong(key);
    if (k == NULL)
        return -1;
    PyObject *tag = cwalk_tag(k);
    if (tag == NULL) {
        Py_DECREF(k);
        return -1;
    }
    PyObject *value = PyBytes_FromStringAndSize((const char *)b + (end - length), (Py_ssize_t)length);
    PyObject *el = value ? cwalk_raw_element(tag, VR_TEXT[vi], (Py_ssize_t)length, value, base + end - length) : NULL;
    int rc = el ? PyDict_SetItem(raw, k, el) : -1;
    if (rc == 0 && key == 0x00080070u) {   /* Manufacturer: the vendor's per-file groups */
        PyObject *r = PyObject_CallMethod(st, "vendor", "O", value);
        rc = r ? 0 : -1;
        Py_XDECREF(r);
    }
    Py_XDECREF(el);
    Py_XDECREF(value);
    Py_DECREF(tag);
    Py_DECREF(k);
    return rc;
}

typedef struct {
    PyObject *st, *raw, *rec, *tmpl;
    const unsigned char *hot, *lows;
    Py_ssize_t n_lows;
    long last_group, stop_elem;
    int end;
} Walk;

/* fastscan._wanted: 1 kept (or the end, with w->end set), 0 walked, -1 error. */
static int wanted(Walk *w, unsigned group, unsigned elem, long long length)
{
    unsigned kind = w->hot[group];
    if (group & 1) {
        if (elem >= 0x1000 && (long)group == w->last_group) {
            if (w->stop_elem < 0) {
                PyObject *r = PyObject_CallMethod(w->st, "last_wanted", "I", group);
                if (r == NULL)
                    return -1;
                w->stop_elem = PyLong_AsLong(r);
                if (w->stop_elem == -1 && PyErr_Occurred()) {
                    Py_DECREF(r);
                    return -1;
                }
                int rc = PyObject_SetAttrString(w->st, "stop_elem", r);
                Py_DECREF(r);
                if (rc < 0)
                    return -1;
            }
            if ((long)elem > w->stop_elem) {
                w->end = 1;
                return 1;
            }
        }
        if (0x0010 <= elem && elem < 0x0100)
            return 1;
        if (elem < 0x1000)
            return 0;
        if (kind < 2 || (Py_ssize_t)(kind - 2) >= w->n_lows) {
            PyErr_SetString(PyExc_KeyError, "private group without a table");
            return -1;
        }
        unsigned low = elem & 0xFF;
        return (w->lows[(kind - 2) * 32 + (low >> 3)] >> (low & 7)) & 1 && length <= MAX_PRIVATE_VALUE;
    }
    if (group >= 0x7FE0) {
        w->end = 1;
        return 1;
    }
    return is_public(((uint32_t)group << 16) | elem);
}

/* (VR index, value length, element size) of the element header at ``p`` (12 bytes in the buffer): 1, or 0 for an
 * undefined length, -1 (FastPathUnavailable) for a header that is not explicit VR. */
static int element_size(const unsigned char *p, int *vi, long long *length, long long *step)
{
    int kind = (*vi = vr_index(p + 4)) < 0 ? 0 : VR_KIND[*vi];
    if (kind == 2) {
        uint32_t l32 = u32(p + 8);
        if (l32 == UNDEFINED)
            return 0;
        *length = l32;
        *step = 12 + *length;
        return 1;
    }
    if (kind == 1) {
        *length = u16(p + 6);
        *step = 8 + *length;
        return 1;
    }
    return fail("not explicit VR");
}

/* Record the open chunk [start, off) (its ``*n`` elements) and close it. */
static int close_chunk(Walk *w, const unsigned char *b, uint32_t first, long long start, long long off, int *n)
{
    if (!*n)
        return 0;
    *n = 0;
    return cwalk_record(w->rec, first, b + start, off - start);
}

/* Keep a wanted element (_keep_here), then read the last group again (the vendor may have lowered it). */
static int keep(Walk *w, const unsigned char *b, long long base, unsigned group, unsigned elem, int vi,
                long long length, long long end)
{
    if (keep_here(w->st, w->raw, b, base, ((uint32_t)group << 16) | elem, vi, length, end) < 0)
        return -1;
    if ((w->last_group = get_long(w->st, "last_group")) == -2 && PyErr_Occurred())
        return -1;
    return 0;
}

/* The length of the previous file's chunk starting with ``first`` when the bytes at ``off`` are the same (recorded
 * as this file's chunk too), else 0; -1 on error. */
static long long jump(Walk *w, const unsigned char *b, Py_ssize_t size, long long off, uint32_t first)
{
    PyObject *key = PyLong_FromUnsignedLong(first);
    if (key == NULL)
        return -1;
    PyObject *seen = PyDict_GetItemWithError(w->tmpl, key);   /* borrowed */
    long long out = seen == NULL && PyErr_Occurred() ? -1 : 0;
    if (seen != NULL && PyBytes_Check(seen)) {
        Py_ssize_t len = PyBytes_GET_SIZE(seen);
        if (len > 0 && off + len <= (long long)size && memcmp(b + off, PyBytes_AS_STRING(seen), len) == 0)
            out = PyDict_SetItem(w->rec, key, seen) < 0 ? -1 : len;
    }
    Py_DECREF(key);
    return out;
}

/* The loop of fastscan._walk over buf[pos - base:]; returns the offset it stopped at, or -1 on error. */
static long long walk(Walk *w, const unsigned char *b, Py_ssize_t size, long long base, long long pos)
{
    long long off = pos - base, limit = (long long)size - 12, start = 0;
    long current = -1;
    int in_hot = 0, n = 0;
    uint32_t first = 0;
    while (0 <= off && off <= limit) {
        const unsigned char *p = b + off;
        unsigned group = u16(p), elem = u16(p + 2);
        if ((long)group != current) {
            if (close_chunk(w, b, first, start, off, &n) < 0)
                return -1;
            if ((long)group > w->last_group) {
                w->end = 1;
                break;
            }
            current = group;
            in_hot = w->hot[group] != 0;
        }
        if (!n) {   /* a chunk starts here: the previous file's chunk at this element is jumped over if equal */
            first = ((uint32_t)group << 16) | elem;
            long long len = jump(w, b, size, off, first);
            if (len < 0)
                return -1;
            if (len > 0) {
                off += len;
                continue;
            }
            start = off;
        }
        int vi;
        long long length, step;
        int got = element_size(p, &vi, &length, &step);
        if (got < 0)
            return -1;
        if (got == 0)   /* undefined length: the Python code reads it */
            break;
        if (in_hot) {
            int want = wanted(w, group, elem, length);
            if (want < 0)
                return -1;
            if (want) {
                if (w->end || off + step > (long long)size)
                    break;
                if (close_chunk(w, b, first, start, off, &n) < 0
                    || keep(w, b, base, group, elem, vi, length, off + step) < 0)
                    return -1;
                off += step;
                continue;
            }
        }
        off += step;
        n++;
        if (n >= CHUNK_ELEMENTS && off <= (long long)size) {
            if (cwalk_record(w->rec, first, b + start, off - start) < 0)
                return -1;
            n = 0;
        }
    }
    if (n && off <= (long long)size && cwalk_record(w->rec, first, b + start, off - start) < 0)
        return -1;
    return off;
}

PyObject *cwalk_walk(PyObject *self, PyObject *args)
{
    PyObject *buf, *hot, *lows;
    long long base, pos;
    Walk w;
    memset(&w, 0, sizeof(w));
    if (!PyArg_ParseTuple(args, "O!LLOO!O!O!", &PyBytes_Type, &buf, &base, &pos, &w.st, &PyBytes_Type, &hot,
                          &PyBytes_Type, &lows, &PyDict_Type, &w.tmpl))
        return NULL;
    if (FPU == NULL || RAW == NULL)
        return PyErr_Format(PyExc_RuntimeError, "_cwalk.setup() was not called");
    if (PyBytes_GET_SIZE(hot) != 65536 || PyBytes_GET_SIZE(lows) % 32)
        return PyErr_Format(PyExc_ValueError, "bad group tables");
    w.hot = (const unsigned char *)PyBytes_AS_STRING(hot);
    w.lows = (const unsigned char *)PyBytes_AS_STRING(lows);
    w.n_lows = PyBytes_GET_SIZE(lows) / 32;
    if ((w.last_group = get_long(w.st, "last_group")) == -2 && PyErr_Occurred())
        return NULL;
    if ((w.stop_elem = get_long(w.st, "stop_elem")) == -2 && PyErr_Occurred())
        return NULL;
    w.raw = PyObject_GetAttrString(w.st, "raw");
    w.rec = PyObject_GetAttrString(w.st, "chunks");
    long long off = -1;
    if (w.raw && w.rec) {
        if (!PyDict_Check(w.raw) || !PyDict_Check(w.rec))
            PyErr_SetString(PyExc_TypeError, "raw and chunks must be dicts");
        else
            off = walk(&w, (const unsigned char *)PyBytes_AS_STRING(buf), PyBytes_GET_SIZE(buf), base, pos);
    }
    Py_XDECREF(w.raw);
    Py_XDECREF(w.rec);
    if (off == -1 && PyErr_Occurred())
        return NULL;
    if (w.end && PyObject_SetAttrString(w.st, "end", Py_True) < 0)
        return NULL;
    return PyLong_FromLongLong(off + base);
}

