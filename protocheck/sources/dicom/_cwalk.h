/* Shared by the files of protocheck.sources.dicom._cwalk (_cwalk.c, _walk.c, _frames.c): the tables setup()
 * fills, little-endian readers and the helpers more than one file uses. Every reader is given a pointer the caller
 * checked against its buffer's end. */
#ifndef PROTOCHECK_CWALK_H
#define PROTOCHECK_CWALK_H

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

extern PyObject *cwalk_FPU;             /* rawio.FastPathUnavailable */
extern PyTypeObject *cwalk_RAW;         /* pydicom RawDataElement (a NamedTuple) */
extern PyObject *cwalk_RAW_DEFAULTS;    /* its field defaults after the seven given */
extern PyObject *cwalk_TAGS;            /* fastscan._TAGS: int -> BaseTag */
extern PyObject *cwalk_TAG_FN;          /* fastscan._tag */
extern PyObject *cwalk_VR_TEXT[26 * 26];      /* VR text by its two letters; NULL: not a VR */
extern unsigned char cwalk_VR_KIND[26 * 26];  /* 0: not a VR, 1: 16-bit length, 2: 32-bit length */
extern uint32_t cwalk_PUBLIC[MAX_PUBLIC];
extern int cwalk_n_public;
extern int cwalk_direct_raw;            /* RawDataElement instances built as tuples (no __new__ call) */

#define FPU cwalk_FPU
#define RAW cwalk_RAW
#define RAW_DEFAULTS cwalk_RAW_DEFAULTS
#define TAGS cwalk_TAGS
#define TAG_FN cwalk_TAG_FN
#define VR_TEXT cwalk_VR_TEXT
#define VR_KIND cwalk_VR_KIND
#define PUBLIC cwalk_PUBLIC
#define n_public cwalk_n_public
#define direct_raw cwalk_direct_raw

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

static inline int fail(const char *why)
{
    PyErr_SetString(FPU ? FPU : PyExc_ValueError, why);
    return -1;
}

/* _cwalk.c */
PyObject *cwalk_raw_element(PyObject *tag, PyObject *vr, Py_ssize_t length, PyObject *value, long long tell);
PyObject *cwalk_tag(PyObject *key);
int cwalk_record(PyObject *rec, uint32_t first, const unsigned char *p, long long n);
PyObject *cwalk_setup(PyObject *self, PyObject *args);
PyObject *cwalk_texts(PyObject *self, PyObject *raw);
/* _walk.c */
PyObject *cwalk_walk(PyObject *self, PyObject *args);
/* _frames.c */
long long cwalk_skip(const unsigned char *b, Py_ssize_t size, long long base, long long pos);
PyObject *cwalk_skip_sq(PyObject *self, PyObject *args);
PyObject *cwalk_read_meta(PyObject *self, PyObject *arg);
PyObject *cwalk_top_level(PyObject *self, PyObject *args);
PyObject *cwalk_frame_children(PyObject *self, PyObject *args);
/* _csa.c */
PyObject *cwalk_csa_tags(PyObject *self, PyObject *args);

#endif
