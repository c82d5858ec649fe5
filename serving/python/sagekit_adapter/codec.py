"""The inference toolkit's content types and its default decoder and
encoder (sagemaker_inference.decoder, .encoder): numpy and scipy when
present, plain lists otherwise."""

import io

JSON = "application/json"
CSV = "text/csv"
NPY = "application/x-npy"
NPZ = "application/x-npz"
UTF8_TYPES = (JSON, CSV)


def media_type(ct):
    return (ct or "").split(";", 1)[0].strip().lower()


def _numpy():
    try:
        import numpy
        return numpy
    except ImportError:
        return None


class UnsupportedFormatError(Exception):
    # The toolkit's text, with the indentation its textwrap.dedent leaves in
    # (the first line has none, so nothing is removed).
    def __init__(self, content_type):
        Exception.__init__(self, "Content type %s is not supported by this framework.\n\n"
                           "            Please implement input_fn to to deserialize the request data or an output_fn to\n"
                           "            serialize the response. For more information, see the SageMaker Python SDK README."
                           % content_type)


def default_decode(data, content_type):
    import json
    np = _numpy()
    mt = media_type(content_type)
    if mt == JSON:
        obj = json.loads(data)
        return np.array(obj) if np is not None else obj
    if mt == CSV:
        if isinstance(data, (bytes, bytearray)):
            data = data.decode("utf-8")
        if np is not None:
            # dtype=None, as the toolkit passes it: each column's type comes
            # from its contents, so integer columns stay integers.
            return np.genfromtxt(io.StringIO(data), dtype=None, delimiter=",")
        rows = []
        for line in data.splitlines():
            if line.strip():
                rows.append([_number(x) for x in line.split(",")])
        return rows
    if mt == NPY and np is not None:
        # Unlike the toolkit, no pickles: an object array in a request body
        # would run code the caller chose. Numeric, string and structured
        # arrays load as before.
        return np.load(io.BytesIO(data), allow_pickle=False)
    if mt == NPZ:
        import scipy.sparse
        return scipy.sparse.load_npz(io.BytesIO(data))
    raise UnsupportedFormatError(content_type)


def _number(text):
    try:
        return int(text)
    except ValueError:
        return float(text)


def _tolist(obj):
    tolist = getattr(obj, "tolist", None)
    if tolist is not None:
        return tolist()
    todense = getattr(obj, "todense", None)
    if todense is not None:
        return todense().tolist()
    raise TypeError("%r is not JSON serializable" % type(obj))


def default_encode(obj, content_type):
    import json
    np = _numpy()
    mt = media_type(content_type)
    if mt == JSON:
        return json.dumps(obj, default=_tolist)
    if mt == CSV:
        stream = io.StringIO()
        if np is not None:
            np.savetxt(stream, np.asarray(obj), delimiter=",", fmt="%s")
        else:
            rows = obj if isinstance(obj, (list, tuple)) else [obj]
            for row in rows:
                if isinstance(row, (list, tuple)):
                    stream.write(",".join(str(x) for x in row) + "\n")
                else:
                    stream.write(str(row) + "\n")
        return stream.getvalue()
    if mt == NPY and np is not None:
        stream = io.BytesIO()
        np.save(stream, np.asarray(obj))
        return stream.getvalue()
    raise UnsupportedFormatError(content_type)
