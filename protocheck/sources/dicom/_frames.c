/* Undefined-length sequences (rawio.skip_undefined_sq), the file meta (rawio.read_meta) and framescan's loops
 * (_top_level, a frame item's children), compiled (see _cwalk.c). */
#include "_cwalk.h"

/* ---- rawio.skip_undefined_sq ---- */

/* Offset after the sequence delimiter; -1: the walk needs bytes past the buffer (the caller walks it in Python,
 * which reads on); -2 on error (FastPathUnavailable set). */
long long cwalk_skip(const unsigned char *b, Py_ssize_t size, long long base, long long pos)
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

PyObject *cwalk_skip_sq(PyObject *self, PyObject *args)
{
    PyObject *buf;
    long long base, pos;
    if (!PyArg_ParseTuple(args, "O!LL", &PyBytes_Type, &buf, &base, &pos))
        return NULL;
    if (FPU == NULL)   /* not set up (fastscan not imported): the Python walk */
        return PyLong_FromLong(-1);
    long long end = cwalk_skip((const unsigned char *)PyBytes_AS_STRING(buf), PyBytes_GET_SIZE(buf), base, pos);
    if (end == -2)
        return NULL;
    return PyLong_FromLongLong(end);
}

/* ---- rawio.read_meta ---- */

/* (meta values by element, offset of the dataset) from a buffer holding the file's start; None when anything
 * needs more bytes or is odd (read_meta reads on, or raises). */
PyObject *cwalk_read_meta(PyObject *self, PyObject *arg)
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
    if ((tag = cwalk_tag(k)) == NULL)
        goto done;
    if ((value = PyBytes_FromStringAndSize((const char *)b + vpos, (Py_ssize_t)(vend - vpos))) == NULL)
        goto done;
    if ((el = cwalk_raw_element(tag, VR_TEXT[vi], (Py_ssize_t)(vend - vpos), value, vpos)) != NULL)
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
PyObject *cwalk_top_level(PyObject *self, PyObject *args)
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
            } else if ((end = cwalk_skip(b, (Py_ssize_t)size, 0, vpos)) < 0) {
                PyErr_Clear();   /* past the buffer, or odd: _top_level reads on, or raises */
                break;
            }
            if (cwalk_record(chunks, tag, p, end - pos) < 0 || keep_raw(raw, b, tag, vi, vpos, end - 8) < 0)
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
            long long end = cwalk_skip(f->b, (Py_ssize_t)f->size, 0, *vpos);
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
PyObject *cwalk_frame_children(PyObject *self, PyObject *args)
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

