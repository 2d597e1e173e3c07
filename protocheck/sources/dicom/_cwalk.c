/* protocheck.sources.dicom._cwalk: the tight loops of the per-file header scan, compiled (this file: the module,
 * its setup and _texts; _walk.c: fastscan._walk; _frames.c: sequences, the file meta and framescan's loops).
 *
 * An optional speed-up of the fast path's loops: the same decisions over the same bytes, with the same results
 * (the pure-Python code stays the reference and the fallback; tests/sources/dicom/test_cwalk.py compares both
 * over every shared file and damaged variants of them). Every read is bounds-checked against the buffer: an
 * element header is read only when its bytes are in the buffer, and lengths are added in 64-bit arithmetic (a
 * length near 2^32 cannot wrap). Anything rare goes back to Python (bytes past the buffer, odd structure) or
 * calls into it (the vendor's stop group, the last wanted private element).
 */
#include "_cwalk.h"

PyObject *FPU = NULL;
PyTypeObject *RAW = NULL;
PyObject *RAW_DEFAULTS = NULL;
PyObject *TAGS = NULL;
PyObject *TAG_FN = NULL;
PyObject *VR_TEXT[26 * 26];
unsigned char VR_KIND[26 * 26];
uint32_t PUBLIC[MAX_PUBLIC];
int n_public = 0;
int direct_raw = 0;
static PyObject *TEXT_KEY[MAX_TEXTS];
static PyObject *TEXT_TAG[MAX_TEXTS];
static int n_texts = 0;
static PyObject *EMPTY = NULL;          /* "" */

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

PyObject *cwalk_setup(PyObject *self, PyObject *args)
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

/* ---- helpers of _walk.c and _frames.c ---- */

PyObject *cwalk_raw_element(PyObject *tag, PyObject *vr, Py_ssize_t length, PyObject *value, long long tell)
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

int cwalk_record(PyObject *rec, uint32_t first, const unsigned char *p, long long n)
{
    PyObject *key = PyLong_FromUnsignedLong(first);
    PyObject *value = PyBytes_FromStringAndSize((const char *)p, (Py_ssize_t)n);
    int rc = (key && value) ? PyDict_SetItem(rec, key, value) : -1;
    Py_XDECREF(key);
    Py_XDECREF(value);
    return rc;
}

/* The BaseTag of ``key`` as fastscan keeps it (``_TAGS.get(key) or _tag(key)``); a new reference. */
PyObject *cwalk_tag(PyObject *key)
{
    PyObject *tag = PyDict_GetItemWithError(TAGS, key);   /* borrowed */
    if (tag != NULL && PyObject_IsTrue(tag) == 1) {
        Py_INCREF(tag);
        return tag;
    }
    return PyErr_Occurred() ? NULL : PyObject_CallOneArg(TAG_FN, key);
}

/* ---- fastscan._texts ---- */

static inline int py_space(unsigned char c) { return c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F); }

PyObject *cwalk_texts(PyObject *self, PyObject *raw)
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
    {"setup", cwalk_setup, METH_VARARGS, "Hand over the Python objects and tables the loops use."},
    {"walk", cwalk_walk, METH_VARARGS, "fastscan._walk: (buf, base, pos, state, hot, lows, template) -> offset."},
    {"skip_sq", cwalk_skip_sq, METH_VARARGS,
     "rawio.skip_undefined_sq over one buffer: (buf, base, pos) -> end offset, or -1 if it needs more bytes."},
    {"read_meta", cwalk_read_meta, METH_O, "rawio.read_meta over the file's first bytes: (meta, offset) or None."},
    {"top_level", cwalk_top_level, METH_VARARGS,
     "framescan: (buf, pos, stop tag or -1, raw, template, chunks) -> offset of the next element to read in Python."},
    {"frame_children", cwalk_frame_children, METH_VARARGS,
     "framescan: (buf, pos, end or -1, template, macros, vendor, vendor groups) -> (pos, vendor)."},
    {"texts", cwalk_texts, METH_O, "fastscan._texts: the plain texts of the per-file values, or None."},
    {"csa_tags", cwalk_csa_tags, METH_VARARGS, "csa._tags: (raw, converters, max items) -> tags, or None."},
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

