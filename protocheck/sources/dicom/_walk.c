/* protocheck.sources.dicom._cwalk: the tight loops of the per-file header scan, compiled.
 *
 * An optional speed-up of fastscan._walk, rawio.skip_undefined_sq and fastscan._texts: the same decisions
 * over the same bytes, with the same results (the pure-Python code stays the reference and the fallback;
 * tests/sources/dicom/test_cwalk.py compares both over every shared file and damaged variants of them).
 * Every read is bounds-checked against the buffer: an element header is read only when its 12 bytes are
 * in the buffer, and lengths are added in 64-bit arithmetic (a length near 2^32 cannot wrap).
 * Rare events call back into Python (the vendor's stop group, the last wanted private element).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define UNDEFINED 0xFFFFFFFFu
#define CHUNK_ELEMENTS 8
#define MAX_PRIVATE_VALUE (64 * 1024)
#define MAX_PUBLIC 64
#define MAX_TEXTS 32
#define MAX_DEPTH 64

static PyObject *FPU = NULL;            /* rawio.FastPathUnavailable */
static PyTypeObject *RAW = NULL;        /* pydicom RawDataElement (a NamedTuple) */
static PyObject *RAW_DEFAULTS = NULL;   /* its field defaults after the seven given */
static PyObject *TAGS = NULL;           /* fastscan._TAGS: int -> BaseTag */
static PyObject *TAG_FN = NULL;         /* fastscan._tag */
static PyObject *VR_TEXT[26 * 26];      /* VR text by its two letters; NULL: not a VR */
static unsigned char VR_KIND[26 * 26];  /* 0: not a VR, 1: 16-bit length, 2: 32-bit length */
static uint32_t PUBLIC[MAX_PUBLIC];
static int n_public = 0;
static PyObject *TEXT_KEY[MAX_TEXTS];
static PyObject *TEXT_TAG[MAX_TEXTS];
static int n_texts = 0;
static PyObject *EMPTY = NULL;          /* "" */
static int direct_raw = 0;              /* RawDataElement instances built as tuples (no __new__ call) */

static inline unsigned u16(const unsigned char *p) { return (unsigned)p[0] | ((unsigned)p[1] << 8); }

static inline uint32_t u32(const unsigned char *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static inline int vr_index(const unsigned char *p)
{
    if (p[0] < 'A' || p[0] > 'Z' || p[1] < 'A' || p[1] > 'Z')
        return -1;
    return (p[0] - 'A') * 26 + (p[1] - 'A');
}

static inline int vr_kind(const unsigned char *p)
{
    int i = vr_index(p);
    return i < 0 ? 0 : VR_KIND[i];
}

static int fail(const char *why)
{
    PyErr_SetString(FPU ? FPU : PyExc_ValueError, why);
    return -1;
}

/* ---- setup: the Python objects and tables the loops use ---- */

static int set_vrs(PyObject *vr_text, PyObject *longs)
{
    PyObject *key, *value;
    Py_ssize_t i = 0;
    while (PyDict_Next(vr_text, &i, &key, &value)) {
        if (!PyBytes_Check(key) || PyBytes_GET_SIZE(key) != 2 || !PyUnicode_Check(value))
            return fail("VR table: two-byte keys and str values expected");
        int k = vr_index((const unsigned char *)PyBytes_AS_STRING(key));
        if (k < 0)
            return fail("VR table: VRs are two capital letters");
        int is_long = PySet_Contains(longs, key);
        if (is_long < 0)
            return -1;
        Py_INCREF(value);
        Py_XSETREF(VR_TEXT[k], value);
        VR_KIND[k] = is_long ? 2 : 1;
    }
    return 0;
}

static int set_public(PyObject *public_tags)
{
    PyObject *seq = PySequence_Fast(public_tags, "public tags: a sequence");
    if (seq == NULL)
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    if (n > MAX_PUBLIC) {
        Py_DECREF(seq);
        return fail("too many public tags");
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned long v = PyLong_AsUnsignedLong(PySequence_Fast_GET_ITEM(seq, i));
        if (v == (unsigned long)-1 && PyErr_Occurred()) {
            Py_DECREF(seq);
            return -1;
        }
        PUBLIC[i] = (uint32_t)v;
    }
    n_public = (int)n;
    Py_DECREF(seq);
    return 0;
}

static int set_texts(PyObject *text_tags)
{
    PyObject *seq = PySequence_Fast(text_tags, "text tags: a sequence");
    if (seq == NULL)
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    if (n > MAX_TEXTS) {
        Py_DECREF(seq);
        return fail("too many text tags");
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *pair = PySequence_Fast_GET_ITEM(seq, i), *name, *tag;
        if (!PyArg_ParseTuple(pair, "UO!", &name, &PyLong_Type, &tag)) {
            Py_DECREF(seq);
            return -1;
        }
        Py_INCREF(name);
        Py_INCREF(tag);
        Py_XSETREF(TEXT_KEY[i], name);
        Py_XSETREF(TEXT_TAG[i], tag);
    }
    n_texts = (int)n;
    Py_DECREF(seq);
    return 0;
}

static PyObject *cw_setup(PyObject *self, PyObject *args)
{
    PyObject *fpu, *raw, *defaults, *tags, *tag_fn, *vr_text, *longs, *public_tags, *text_tags;
    Py_ssize_t n_fields;
    if (!PyArg_ParseTuple(args, "OO!nO!O!OO!O!OO", &fpu, &PyType_Type, &raw, &n_fields, &PyTuple_Type, &defaults,
                          &PyDict_Type, &tags, &tag_fn, &PyDict_Type, &vr_text, &PyFrozenSet_Type, &longs,
                          &public_tags, &text_tags))
        return NULL;
    if (PyTuple_GET_SIZE(defaults) > 2)
        return PyErr_Format(PyExc_ValueError, "RawDataElement: at most two field defaults expected");
    Py_INCREF(fpu);
    Py_XSETREF(FPU, fpu);
    if (set_vrs(vr_text, longs) < 0 || set_public(public_tags) < 0 || set_texts(text_tags) < 0)
        return NULL;
    Py_INCREF(raw);
    Py_XSETREF(RAW, (PyTypeObject *)raw);
    Py_INCREF(defaults);
    Py_XSETREF(RAW_DEFAULTS, defaults);
    Py_INCREF(tags);
    Py_XSETREF(TAGS, tags);
    Py_INCREF(tag_fn);
    Py_XSETREF(TAG_FN, tag_fn);
    /* A NamedTuple's __new__ only packs its arguments into the tuple: built directly when the class is a plain
     * tuple subclass without instance dict (else the class is called). */
    direct_raw = PyType_IsSubtype(RAW, &PyTuple_Type) && RAW->tp_dictoffset == 0
                 && RAW->tp_itemsize == (Py_ssize_t)sizeof(PyObject *) && n_fields == 7 + PyTuple_GET_SIZE(defaults);
    Py_RETURN_NONE;
}

/* ---- fastscan._walk ---- */

static PyObject *raw_element(PyObject *tag, PyObject *vr, Py_ssize_t length, PyObject *value, long long tell)
{
    PyObject *items[9];
    Py_ssize_t n = 7 + PyTuple_GET_SIZE(RAW_DEFAULTS);   /* at most 9 (setup) */
    items[0] = tag;
    items[1] = vr;
    items[2] = PyLong_FromSsize_t(length);
    items[3] = value;
    items[4] = PyLong_FromLongLong(tell);
    items[5] = Py_False;
    items[6] = Py_True;
    if (items[2] == NULL || items[4] == NULL) {
        Py_XDECREF(items[2]);
        Py_XDECREF(items[4]);
        return NULL;
    }
    PyObject *out;
    if (direct_raw) {
        out = RAW->tp_alloc(RAW, n);
        if (out != NULL) {
            for (Py_ssize_t i = 0; i < n; i++) {
                PyObject *v = i < 7 ? items[i] : PyTuple_GET_ITEM(RAW_DEFAULTS, i - 7);
                if (i != 2 && i != 4)
                    Py_INCREF(v);
                PyTuple_SET_ITEM(out, i, v);
            }
            return out;
        }
    } else {
        out = PyObject_Vectorcall((PyObject *)RAW, items, 7, NULL);
    }
    Py_DECREF(items[2]);
    Py_DECREF(items[4]);
    return out;
}

static int is_public(uint32_t tag)
{
    for (int i = 0; i < n_public; i++)
        if (PUBLIC[i] == tag)
            return 1;
    return 0;
}

static int record(PyObject *rec, uint32_t first, const unsigned char *p, long long n)
{
    PyObject *key = PyLong_FromUnsignedLong(first);
    PyObject *value = PyBytes_FromStringAndSize((const char *)p, (Py_ssize_t)n);
    int rc = (key && value) ? PyDict_SetItem(rec, key, value) : -1;
    Py_XDECREF(key);
    Py_XDECREF(value);
    return rc;
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
    PyObject *tag = key ? PyDict_GetItemWithError(TAGS, k) : NULL;   /* borrowed */
    if (tag != NULL)
        Py_INCREF(tag);
    else if (PyErr_Occurred() || (tag = PyObject_CallOneArg(TAG_FN, k)) == NULL) {
        Py_DECREF(k);
        return -1;
    }
    PyObject *value = PyBytes_FromStringAndSize((const char *)b + (end - length), (Py_ssize_t)length);
    PyObject *el = value ? raw_element(tag, VR_TEXT[vi], (Py_ssize_t)length, value, base + end - length) : NULL;
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
            if (n) {
                if (record(w->rec, first, b + start, off - start) < 0)
                    return -1;
                n = 0;
            }
            if ((long)group > w->last_group) {
                w->end = 1;
                break;
            }
            current = group;
            in_hot = w->hot[group] != 0;
        }
        if (!n) {   /* a chunk starts here: the previous file's chunk at this element is jumped over if equal */
            first = ((uint32_t)group << 16) | elem;
            PyObject *key = PyLong_FromUnsignedLong(first);
            if (key == NULL)
                return -1;
            PyObject *seen = PyDict_GetItemWithError(w->tmpl, key);   /* borrowed */
            if (seen == NULL && PyErr_Occurred()) {
                Py_DECREF(key);
                return -1;
            }
            if (seen != NULL && PyBytes_Check(seen)) {
                Py_ssize_t len = PyBytes_GET_SIZE(seen);
                if (len > 0 && off + len <= (long long)size && memcmp(p, PyBytes_AS_STRING(seen), len) == 0) {
                    int rc = PyDict_SetItem(w->rec, key, seen);
                    Py_DECREF(key);
                    if (rc < 0)
                        return -1;
                    off += len;
                    continue;
                }
            }
            Py_DECREF(key);
            start = off;
        }
        int vi = vr_index(p + 4), kind = vi < 0 ? 0 : VR_KIND[vi];
        long long length, step;
        if (kind == 2) {
            uint32_t l32 = u32(p + 8);
            if (l32 == UNDEFINED)
                break;
            length = l32;
            step = 12 + length;
        } else if (kind == 1) {
            length = u16(p + 6);
            step = 8 + length;
        } else {
            return fail("not explicit VR");
        }
        if (in_hot) {
            int want = wanted(w, group, elem, length);
            if (want < 0)
                return -1;
            if (want) {
                if (w->end || off + step > (long long)size)
                    break;
                if (n) {
                    if (record(w->rec, first, b + start, off - start) < 0)
                        return -1;
                    n = 0;
                }
                if (keep_here(w->st, w->raw, b, base, ((uint32_t)group << 16) | elem, vi, length, off + step) < 0)
                    return -1;
                if ((w->last_group = get_long(w->st, "last_group")) == -2 && PyErr_Occurred())
                    return -1;
                off += step;
                continue;
            }
        }
        off += step;
        n++;
        if (n >= CHUNK_ELEMENTS && off <= (long long)size) {
            if (record(w->rec, first, b + start, off - start) < 0)
                return -1;
            n = 0;
        }
    }
    if (n && off <= (long long)size && record(w->rec, first, b + start, off - start) < 0)
        return -1;
    return off;
}

static PyObject *cw_walk(PyObject *self, PyObject *args)
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

/* ---- rawio.skip_undefined_sq ---- */

/* Offset after the sequence delimiter; -1: the walk needs bytes past the buffer (the caller walks it in Python,
 * which reads on); -2 on error (FastPathUnavailable set). */
static long long skip_sq(const unsigned char *b, Py_ssize_t size, long long base, long long pos)
{
    char stack[2 * MAX_DEPTH + 8];   /* 1: in a sequence (items expected), 0: in an item (elements expected) */
    int depth = 1;
    stack[0] = 1;
    for (;;) {
        long long off = pos - base;
        if (off < 0 || off + 12 > (long long)size)
            return -1;
        const unsigned char *p = b + off;
        unsigned group = u16(p), elem = u16(p + 2);
        if (group == 0xFFFE) {
            uint32_t length = u32(p + 4);
            if (stack[depth - 1]) {
                if (elem == 0xE000) {
                    if (length == UNDEFINED) {
                        stack[depth++] = 0;
                        pos += 8;
                    } else {
                        pos += 8 + (long long)length;
                    }
                    continue;
                }
                if (elem != 0xE0DD)
                    return fail("unexpected delimiter in sequence") - 1;
            } else if (elem != 0xE00D) {
                return fail("unexpected delimiter in item") - 1;
            }
            depth--;
            pos += 8;
            if (depth == 0)
                return pos;
            continue;
        }
        if (stack[depth - 1])
            return fail("sequence without item tag") - 1;
        int kind = vr_kind(p + 4);
        if (kind == 0)
            return fail("not explicit VR") - 1;
        if (kind == 1) {
            pos += 8 + (long long)u16(p + 6);
            continue;
        }
        uint32_t length = u32(p + 8);
        if (length != UNDEFINED)
            pos += 12 + (long long)length;
        else if (p[4] != 'S' || p[5] != 'Q')
            return fail("undefined length outside a sequence") - 1;
        else if (depth > MAX_DEPTH)
            return fail("sequences nested too deep") - 1;
        else {
            stack[depth++] = 1;
            pos += 12;
        }
    }
}

static PyObject *cw_skip_sq(PyObject *self, PyObject *args)
{
    PyObject *buf;
    long long base, pos;
    if (!PyArg_ParseTuple(args, "O!LL", &PyBytes_Type, &buf, &base, &pos))
        return NULL;
    if (FPU == NULL)   /* not set up (fastscan not imported): the Python walk */
        return PyLong_FromLong(-1);
    long long end = skip_sq((const unsigned char *)PyBytes_AS_STRING(buf), PyBytes_GET_SIZE(buf), base, pos);
    if (end == -2)
        return NULL;
    return PyLong_FromLongLong(end);
}

/* ---- rawio.read_meta ---- */

/* (meta values by element, offset of the dataset) from a buffer holding the file's start; None when anything
 * needs more bytes or is odd (read_meta reads on, or raises). */
static PyObject *cw_read_meta(PyObject *self, PyObject *arg)
{
    if (!PyBytes_Check(arg))
        return PyErr_Format(PyExc_TypeError, "bytes expected");
    const unsigned char *b = (const unsigned char *)PyBytes_AS_STRING(arg);
    long long size = PyBytes_GET_SIZE(arg), pos = 132;
    if (size < 132 || memcmp(b + 128, "DICM", 4) != 0)
        Py_RETURN_NONE;
    PyObject *meta = PyDict_New();
    if (meta == NULL)
        return NULL;
    while (pos + 8 <= size) {
        const unsigned char *p = b + pos;
        unsigned group = u16(p);
        int kind = vr_kind(p + 4);
        if (group == 0xFFFE || kind == 0 || (kind == 2 && pos + 12 > size))
            break;
        if (group != 0x0002) {
            PyObject *out = Py_BuildValue("(OL)", meta, pos);
            Py_DECREF(meta);
            return out;
        }
        long long vpos = pos + (kind == 2 ? 12 : 8);
        uint32_t length = kind == 2 ? u32(p + 8) : u16(p + 6);
        if (length == UNDEFINED || vpos + length > size)
            break;
        PyObject *k = PyLong_FromUnsignedLong(u16(p + 2));
        PyObject *v = PyBytes_FromStringAndSize((const char *)b + vpos, (Py_ssize_t)length);
        int rc = k && v ? PyDict_SetItem(meta, k, v) : -1;
        Py_XDECREF(k);
        Py_XDECREF(v);
        if (rc < 0) {
            Py_DECREF(meta);
            return NULL;
        }
        pos = vpos + length;
    }
    Py_DECREF(meta);
    Py_RETURN_NONE;
}

/* ---- framescan._top_level: every top-level element, raw ---- */

static int keep_raw(PyObject *raw, const unsigned char *b, uint32_t key, int vi, long long vpos, long long vend)
{
    PyObject *k = PyLong_FromUnsignedLong(key), *tag = NULL, *value = NULL, *el = NULL;
    int rc = -1;
    if (k == NULL)
        return -1;
    tag = key ? PyDict_GetItemWithError(TAGS, k) : NULL;   /* borrowed */
    if (tag != NULL)
        Py_INCREF(tag);
    else if (PyErr_Occurred() || (tag = PyObject_CallOneArg(TAG_FN, k)) == NULL)
        goto done;
    if ((value = PyBytes_FromStringAndSize((const char *)b + vpos, (Py_ssize_t)(vend - vpos))) == NULL)
        goto done;
    if ((el = raw_element(tag, VR_TEXT[vi], (Py_ssize_t)(vend - vpos), value, vpos)) != NULL)
        rc = PyDict_SetItem(raw, k, el);
done:
    Py_XDECREF(el);
    Py_XDECREF(value);
    Py_XDECREF(tag);
    Py_DECREF(k);
    return rc;
}

/* The top-level elements from ``pos`` as _top_level reads them (each kept raw; an undefined-length sequence
 * jumped over when its bytes are the template's, recorded in ``chunks``); returns the offset of the first element
 * _top_level must read itself: ``stop_tag``, the pixel data, anything odd, bytes past the buffer. */
static PyObject *cw_top_level(PyObject *self, PyObject *args)
{
    PyObject *buf, *raw, *tmpl, *chunks;
    long long pos, stop_tag;
    if (!PyArg_ParseTuple(args, "O!LLO!O!O!", &PyBytes_Type, &buf, &pos, &stop_tag, &PyDict_Type, &raw, &PyDict_Type,
                          &tmpl, &PyDict_Type, &chunks))
        return NULL;
    if (RAW == NULL)
        return PyErr_Format(PyExc_RuntimeError, "_cwalk.setup() was not called");
    const unsigned char *b = (const unsigned char *)PyBytes_AS_STRING(buf);
    long long size = PyBytes_GET_SIZE(buf);
    while (pos >= 0 && pos + 12 <= size) {
        const unsigned char *p = b + pos;
        unsigned group = u16(p);
        uint32_t tag = ((uint32_t)group << 16) | u16(p + 2);
        int vi = vr_index(p + 4), kind = vi < 0 ? 0 : VR_KIND[vi];
        if (group == 0xFFFE || group >= 0x7FE0 || kind == 0 || (long long)tag == stop_tag)
            break;
        long long vpos = pos + (kind == 2 ? 12 : 8), end;
        uint32_t length = kind == 2 ? u32(p + 8) : u16(p + 6);
        if (kind == 2 && length == UNDEFINED) {
            if (p[4] != 'S' || p[5] != 'Q')
                break;
            PyObject *key = PyLong_FromUnsignedLong(tag);
            if (key == NULL)
                return NULL;
            PyObject *seen = PyDict_GetItemWithError(tmpl, key);   /* borrowed */
            Py_DECREF(key);
            if (seen == NULL && PyErr_Occurred())
                return NULL;
            if (seen != NULL && PyBytes_Check(seen) && pos + PyBytes_GET_SIZE(seen) > size)
                break;   /* _top_level reads on */
            if (seen != NULL && PyBytes_Check(seen) && PyBytes_GET_SIZE(seen) > 0
                && memcmp(p, PyBytes_AS_STRING(seen), PyBytes_GET_SIZE(seen)) == 0) {
                end = pos + PyBytes_GET_SIZE(seen);
            } else if ((end = skip_sq(b, (Py_ssize_t)size, 0, vpos)) < 0) {
                PyErr_Clear();   /* past the buffer, or odd: _top_level reads on, or raises */
                break;
            }
            if (record(chunks, tag, p, end - pos) < 0 || keep_raw(raw, b, tag, vi, vpos, end - 8) < 0)
                return NULL;
        } else {
            end = vpos + length;
            if (end > size)
                break;
            if (keep_raw(raw, b, tag, vi, vpos, end) < 0)
                return NULL;
        }
        pos = end;
    }
    return PyLong_FromLongLong(pos);
}

/* ---- framescan._FrameWalk._item: the children of one frame item ---- */

#define PLANE_POSITION 0x00209113u
#define MR_ECHO 0x00189114u
#define MR_DIFFUSION 0x00189117u

typedef struct {
    const unsigned char *b;
    long long size;
    PyObject *tmpl, *macros, *vendor_groups;
    int vendor;
} Frame;

/* One child at ``pos`` not jumped over: its end, and (macro value or NULL, plain); 0 when the Python loop must
 * read it (anything unusual, or bytes past the buffer: it raises or reads on), -1 on error. */
static int frame_child(Frame *f, long long pos, long long *after, long long *vpos, long long *vend, int *plain)
{
    const unsigned char *p = f->b + pos;
    if (pos + 8 > f->size)
        return 0;
    unsigned group = u16(p);
    int kind = vr_kind(p + 4), sq = p[4] == 'S' && p[5] == 'Q';
    if (kind == 0)
        return 0;
    if (kind == 1) {
        *vpos = pos + 8;
        *after = *vend = *vpos + u16(p + 6);
    } else {
        if (pos + 12 > f->size)
            return 0;
        uint32_t length = u32(p + 8);
        *vpos = pos + 12;
        if (length == UNDEFINED) {
            if (!sq)
                return 0;
            long long end = skip_sq(f->b, (Py_ssize_t)f->size, 0, *vpos);
            if (end < 0) {   /* past the buffer, or odd: the Python walk reads on, or raises */
                PyErr_Clear();
                return 0;
            }
            *after = end;
            *vend = end - 8;
        } else {
            *after = *vend = *vpos + length;
        }
    }
    if (*after > f->size)
        return 0;
    uint32_t tag = ((uint32_t)group << 16) | u16(p + 2);
    *plain = 0;
    if (tag == PLANE_POSITION || tag == MR_ECHO || tag == MR_DIFFUSION)
        return sq ? 2 : 0;   /* 2: a macro */
    if (group & 1) {
        PyObject *g = PyLong_FromUnsignedLong(group);
        if (g == NULL)
            return -1;
        *plain = PySequence_Contains(f->vendor_groups, g);
        Py_DECREF(g);
        if (*plain < 0)
            return -1;
    } else {
        *plain = !sq;
    }
    return 1;
}

/* Record the child [pos, after) in the template, as _item does; a macro's value goes to ``macros``. */
static int frame_record(Frame *f, PyObject *key, long long pos, long long after, long long vpos, long long vend,
                        int is_macro, int plain)
{
    PyObject *value = Py_None, *data, *entry;
    if (is_macro) {
        if ((value = PyBytes_FromStringAndSize((const char *)f->b + vpos, (Py_ssize_t)(vend - vpos))) == NULL)
            return -1;
        if (PyDict_SetItem(f->macros, key, value) < 0) {
            Py_DECREF(value);
            return -1;
        }
    } else {
        Py_INCREF(value);
    }
    data = PyBytes_FromStringAndSize((const char *)f->b + pos, (Py_ssize_t)(after - pos));
    entry = data ? PyTuple_Pack(3, data, value, plain ? Py_True : Py_False) : NULL;
    int rc = entry ? PyDict_SetItem(f->tmpl, key, entry) : -1;
    Py_XDECREF(entry);
    Py_XDECREF(data);
    Py_DECREF(value);
    return rc;
}

/* The children of a frame item from ``pos``, as _item reads them: one whose bytes are the template's (the previous
 * frame's child of that tag) is jumped over, any other is walked and becomes the template. A macro child sets its
 * value in ``macros``, a vendor or plain child sets ``vendor``. Stops (returns (pos, vendor)) at the item's end or
 * delimiter and at anything the Python loop must read (bytes past the buffer, odd structure): it goes on there. */
static PyObject *cw_frame_children(PyObject *self, PyObject *args)
{
    PyObject *buf, *key = NULL;
    long long pos, end;
    Frame f;
    if (!PyArg_ParseTuple(args, "O!LLO!O!pO", &PyBytes_Type, &buf, &pos, &end, &PyDict_Type, &f.tmpl, &PyDict_Type,
                          &f.macros, &f.vendor, &f.vendor_groups))
        return NULL;
    f.b = (const unsigned char *)PyBytes_AS_STRING(buf);
    f.size = PyBytes_GET_SIZE(buf);
    while (pos >= 0 && (end < 0 || pos < end) && pos + 8 <= f.size) {
        unsigned group = u16(f.b + pos), elem = u16(f.b + pos + 2);
        if (group == 0xFFFE)
            break;
        if ((key = PyLong_FromUnsignedLong(((uint32_t)group << 16) | elem)) == NULL)
            return NULL;
        PyObject *seen = PyDict_GetItemWithError(f.tmpl, key);   /* borrowed: (bytes, macro or None, plain) */
        if (seen == NULL && PyErr_Occurred())
            goto error;
        PyObject *data = seen && PyTuple_Check(seen) && PyTuple_GET_SIZE(seen) == 3 ? PyTuple_GET_ITEM(seen, 0) : NULL;
        if (seen != NULL && (data == NULL || !PyBytes_Check(data) || PyBytes_GET_SIZE(data) == 0)) {
            Py_DECREF(key);
            break;
        }
        if (data != NULL && pos + PyBytes_GET_SIZE(data) > f.size) {   /* the Python loop reads on */
            Py_DECREF(key);
            break;
        }
        if (data != NULL && memcmp(f.b + pos, PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data)) == 0) {
            PyObject *macro = PyTuple_GET_ITEM(seen, 1);
            if (macro != Py_None && PyDict_SetItem(f.macros, key, macro) < 0)
                goto error;
            if (!f.vendor && (f.vendor = PyObject_IsTrue(PyTuple_GET_ITEM(seen, 2))) < 0)
                goto error;
            pos += PyBytes_GET_SIZE(data);
            Py_DECREF(key);
            continue;
        }
        long long after, vpos, vend;
        int plain, got = frame_child(&f, pos, &after, &vpos, &vend, &plain);
        if (got < 0)
            goto error;
        if (got == 0) {
            Py_DECREF(key);
            break;
        }
        if (frame_record(&f, key, pos, after, vpos, vend, got == 2, plain) < 0)
            goto error;
        f.vendor = f.vendor || plain;
        pos = after;
        Py_DECREF(key);
    }
    return Py_BuildValue("(LO)", pos, f.vendor ? Py_True : Py_False);
error:
    Py_XDECREF(key);
    return NULL;
}

/* ---- fastscan._texts ---- */

static inline int py_space(unsigned char c) { return c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F); }

static PyObject *cw_texts(PyObject *self, PyObject *raw)
{
    if (!PyDict_Check(raw))
        return PyErr_Format(PyExc_TypeError, "raw must be a dict");
    if (RAW == NULL)
        return PyErr_Format(PyExc_RuntimeError, "_cwalk.setup() was not called");
    if (EMPTY == NULL && (EMPTY = PyUnicode_FromStringAndSize("", 0)) == NULL)
        return NULL;
    PyObject *out = PyDict_New();
    if (out == NULL)
        return NULL;
    for (int i = 0; i < n_texts; i++) {
        PyObject *el = PyDict_GetItemWithError(raw, TEXT_TAG[i]), *v, *text;   /* borrowed */
        if (el == NULL) {
            if (PyErr_Occurred() || PyDict_SetItem(out, TEXT_KEY[i], EMPTY) < 0)
                goto error;
            continue;
        }
        int is_raw = Py_IS_TYPE(el, RAW) ? 1 : PyObject_IsInstance(el, (PyObject *)RAW);
        if (is_raw < 0)
            goto error;
        if (!is_raw)
            goto not_plain;
        if (Py_IS_TYPE(el, RAW) && PyTuple_GET_SIZE(el) > 3) {
            v = PyTuple_GET_ITEM(el, 3);
            Py_INCREF(v);
        } else if ((v = PyObject_GetAttrString(el, "value")) == NULL) {
            goto error;
        }
        if (!PyBytes_Check(v)) {
            Py_DECREF(v);
            goto not_plain;
        }
        const unsigned char *p = (const unsigned char *)PyBytes_AS_STRING(v);
        Py_ssize_t a = 0, z = PyBytes_GET_SIZE(v);
        for (Py_ssize_t j = 0; j < z; j++)
            if (p[j] & 0x80) {
                Py_DECREF(v);
                goto not_plain;
            }
        while (z > 0 && p[z - 1] == 0)   /* .rstrip("\x00") then .strip() */
            z--;
        while (z > 0 && py_space(p[z - 1]))
            z--;
        while (a < z && py_space(p[a]))
            a++;
        text = PyUnicode_DecodeASCII((const char *)p + a, z - a, NULL);
        Py_DECREF(v);
        if (text == NULL)
            goto error;
        int rc = PyDict_SetItem(out, TEXT_KEY[i], text);
        Py_DECREF(text);
        if (rc < 0)
            goto error;
    }
    return out;
not_plain:
    Py_DECREF(out);
    Py_RETURN_NONE;
error:
    Py_DECREF(out);
    return NULL;
}

static PyMethodDef methods[] = {
    {"setup", cw_setup, METH_VARARGS, "Hand over the Python objects and tables the loops use."},
    {"walk", cw_walk, METH_VARARGS, "fastscan._walk: (buf, base, pos, state, hot, lows, template) -> offset."},
    {"skip_sq", cw_skip_sq, METH_VARARGS,
     "rawio.skip_undefined_sq over one buffer: (buf, base, pos) -> end offset, or -1 if it needs more bytes."},
    {"read_meta", cw_read_meta, METH_O, "rawio.read_meta over the file's first bytes: (meta, offset) or None."},
    {"top_level", cw_top_level, METH_VARARGS,
     "framescan: (buf, pos, stop tag or -1, raw, template, chunks) -> offset of the next element to read in Python."},
    {"frame_children", cw_frame_children, METH_VARARGS,
     "framescan: (buf, pos, end or -1, template, macros, vendor, vendor groups) -> (pos, vendor)."},
    {"texts", cw_texts, METH_O, "fastscan._texts: the plain texts of the per-file values, or None."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_cwalk", "Compiled loops of the per-file scan.", -1,
                                    methods};

/* Raised whenever the functions or their arguments change: native.py loads only the version it was written for
 * (a module left from an older build, e.g. in place by `pip install -e`, is ignored until rebuilt). */
#define CWALK_VERSION 2

PyMODINIT_FUNC PyInit__cwalk(void)
{
    PyObject *m = PyModule_Create(&module);
    if (m != NULL && PyModule_AddIntConstant(m, "VERSION", CWALK_VERSION) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
