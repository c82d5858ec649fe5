# A standard-library WSGI app that reports what it was given (PEP 3333).
import json


def app(environ, start_response):
    if environ["PATH_INFO"] == "/ping":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b""]
    body = environ["wsgi.input"].read()
    if body == b"raise":
        raise RuntimeError("app failure")
    report = {
        "method": environ["REQUEST_METHOD"],
        "path": environ["PATH_INFO"],
        "content_type": environ.get("CONTENT_TYPE"),
        "content_length": environ.get("CONTENT_LENGTH"),
        "accept": environ.get("HTTP_ACCEPT"),
        "inference_id": environ.get("HTTP_X_AMZN_SAGEMAKER_INFERENCE_ID"),
        "body_bytes": len(body),
        "multiprocess": environ["wsgi.multiprocess"],
    }
    write = start_response("202 Accepted", [("Content-Type", "application/json"),
                                            ("X-Amzn-SageMaker-Custom-Attributes", "seen=1")])
    # Both ways of giving the body: the legacy write() callable and the iterable.
    write(b'{"report": ')
    return [json.dumps(report, sort_keys=True).encode(), b"}"]
