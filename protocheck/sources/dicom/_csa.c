/* A Siemens CSA2 header's tags (csa._tags), compiled: the same walk over the same bytes, the same items.
 *
 * Items are cut and converted exactly as csa._tags does it: the text before the first NUL (latin-1), or the
 * bytes unchanged when there is none; converted by the very converters csa passes (float, int), so every value
 * and every failure is Python's own. Anything csa._tags would raise on (a count out of range, an item past the
 * end, a non-empty item after the last value, a value that does not convert) gives None: the caller then raises
 * FastPathUnavailable, as csa.read does on any exception of _tags. Offsets are 64-bit (no int overflow).
 */
#include "_cwalk.h"

static inline int32_t s32(const unsigned char *p) { return (int32_t)u32(p); }

/* nibabel's nt_str of p[0:n]: text before the first NUL (latin-1), or the bytes when there is none */
static PyObject *nt(const unsigned char *p, Py_ssize_t n)
{
    const unsigned char *zero = n > 0 ? memchr(p, 0, (size_t)n) : NULL;
    if (zero == NULL)
        return PyBytes_FromStringAndSize((const char *)p, n);
    return PyUnicode_DecodeLatin1((const char *)p, zero - p, NULL);
}

/* -1: error set (a real one: memory), 0: not the simple case (None to the caller), 1: done */
static int one_tag(const unsigned char *b, long long size, long long *at, PyObject *converters, long long max_items,
                   PyObject *tags)
{
    long long ptr = *at;
    if (ptr < 0 || ptr + 84 > size)
        return 0;
    const unsigned char *h = b + ptr;   /* name 64s, vm i, vr 4s, syngodt i, n_items i, unused i */
    long long vm = s32(h + 64), n_items = s32(h + 76);
    ptr += 84;
    long long n_values = vm ? vm : n_items;
    PyObject *convert = NULL;   /* borrowed */
    const unsigned char *zero = memchr(h + 68, 0, 4);
    if (zero != NULL) {
        PyObject *vr = PyUnicode_DecodeLatin1((const char *)h + 68, zero - (h + 68), NULL);
        if (vr == NULL)
            return -1;
        convert = PyDict_GetItemWithError(converters, vr);
        Py_DECREF(vr);
        if (convert == NULL && PyErr_Occurred())
            return -1;
    }
    if (n_items > max_items)
        return 0;
    PyObject *items = PyList_New(0);
    if (items == NULL)
        return -1;
    for (long long item_no = 0; item_no < n_items; item_no++) {
        if (ptr + 16 > size)
            goto simple;
        long long length = s32(b + ptr + 4);
        ptr += 16;
        if (length < 0 || ptr + length > size)
            goto simple;
        if (item_no >= n_values) {
            if (length)
                goto simple;
            continue;
        }
        PyObject *item = nt(b + ptr, (Py_ssize_t)length);
        if (item == NULL)
            goto error;
        ptr += length;
        if (convert != NULL) {
            if (!length) {   /* the real items ended: the rest must be empty */
                Py_DECREF(item);
                n_values = item_no;
                continue;
            }
            PyObject *value = PyObject_CallOneArg(convert, item);
            Py_DECREF(item);
            if (value == NULL) {   /* does not convert: csa._tags raises, csa.read hands it to nibabel */
                if (!PyErr_ExceptionMatches(PyExc_Exception))
                    goto error;
                PyErr_Clear();
                goto simple;
            }
            item = value;
        }
        int rc = PyList_Append(items, item);
        Py_DECREF(item);
        if (rc < 0)
            goto error;
        ptr += (4 - length % 4) % 4;   /* items are padded to 4 bytes */
    }
    PyObject *entry = Py_BuildValue("{sO}", "items", items);
    Py_DECREF(items);
    if (entry == NULL)
        return -1;
    PyObject *name = nt(h, 64);
    if (name == NULL) {
        Py_DECREF(entry);
        return -1;
    }
    int rc = PyDict_SetItem(tags, name, entry);
    Py_DECREF(name);
    Py_DECREF(entry);
    if (rc < 0)
        return -1;
    *at = ptr;
    return 1;
simple:
    Py_DECREF(items);
    return 0;
error:
    Py_DECREF(items);
    return -1;
}

/* csa_tags(raw: bytes, converters: dict, max_items: int) -> {name: {"items": [...]}} or None */
PyObject *cwalk_csa_tags(PyObject *self, PyObject *args)
{
    PyObject *raw, *converters;
    long long max_items;
    if (!PyArg_ParseTuple(args, "O!O!L", &PyBytes_Type, &raw, &PyDict_Type, &converters, &max_items))
        return NULL;
    const unsigned char *b = (const unsigned char *)PyBytes_AS_STRING(raw);
    long long size = PyBytes_GET_SIZE(raw);
    if (size < 16)
        Py_RETURN_NONE;
    long long n_tags = u32(b + 8);
    if (!(0 < n_tags && n_tags <= max_items))
        Py_RETURN_NONE;
    PyObject *tags = PyDict_New();
    if (tags == NULL)
        return NULL;
    long long ptr = 16;
    for (long long i = 0; i < n_tags; i++) {
        int rc = one_tag(b, size, &ptr, converters, max_items, tags);
        if (rc <= 0) {
            Py_DECREF(tags);
            if (rc < 0)
                return NULL;
            Py_RETURN_NONE;
        }
    }
    return tags;
}
