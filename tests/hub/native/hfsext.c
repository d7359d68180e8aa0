/* A Python extension module for the tests, built without Python.h: the few declarations of the
 * stable ABI (abi3, any CPython 3) it needs. MODNAME and MODVALUE come from the command line;
 * the module has one function, value(), returning MODVALUE. */
#include <stddef.h>

typedef ptrdiff_t Py_ssize_t;
typedef struct _object {
    Py_ssize_t ob_refcnt;
    void *ob_type;
} PyObject;
typedef PyObject *(*PyCFunction)(PyObject *, PyObject *);
typedef struct {
    const char *ml_name;
    PyCFunction ml_meth;
    int ml_flags;
    const char *ml_doc;
} PyMethodDef;
typedef struct {
    PyObject ob_base;
    PyObject *(*m_init)(void);
    Py_ssize_t m_index;
    PyObject *m_copy;
} PyModuleDef_Base;
typedef struct {
    PyModuleDef_Base m_base;
    const char *m_name;
    const char *m_doc;
    Py_ssize_t m_size;
    PyMethodDef *m_methods;
    void *m_slots, *m_traverse, *m_clear, *m_free;
} PyModuleDef;

PyObject *PyModule_Create2(PyModuleDef *def, int apiver);
PyObject *PyLong_FromLong(long v);

#define METH_NOARGS 0x0004
#define PYTHON_ABI_VERSION 3
#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define STR2(x) #x
#define STR(x) STR2(x)

static PyObject *value(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    return PyLong_FromLong(MODVALUE);
}

static PyMethodDef methods[] = {{"value", value, METH_NOARGS, NULL}, {NULL, NULL, 0, NULL}};
static PyModuleDef def = {
    {{1, NULL}, NULL, 0, NULL}, STR(MODNAME), NULL, -1, methods, NULL, NULL, NULL, NULL};

PyObject *CAT(PyInit_, MODNAME)(void)
{
    return PyModule_Create2(&def, PYTHON_ABI_VERSION);
}
