"""RFC 6901 JSON pointers: how pgc names a place in the user's document.

>>> join("/process_graph", "a/b", "arguments")
'/process_graph/a~1b/arguments'
>>> split('/process_graph/a~1b')
['process_graph', 'a/b']
"""

from __future__ import annotations


def escape(token: str | int) -> str:
    token = str(token)
    if "~" in token or "/" in token:
        return token.replace("~", "~0").replace("/", "~1")
    return token


def join(base: str, *tokens: str | int) -> str:
    for t in tokens:
        base = base + "/" + escape(t)
    return base


def split(pointer: str) -> list[str]:
    if not pointer:
        return []
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def resolve(document: object, pointer: str) -> object:
    """The value at ``pointer``; raises ``KeyError`` when the path does not exist."""
    node = document
    for token in split(pointer):
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            raise KeyError(pointer)
    return node


def document_order(document: object, pointer: str) -> tuple[int, ...]:
    """A sort key that orders pointers as their places appear in the document.

    Dicts keep their insertion order (which is the order of the JSON text), so the key is
    the index path. A path that leaves the document sorts after its existing prefix.
    """
    key: list[int] = []
    node = document
    for token in split(pointer):
        if isinstance(node, dict) and token in node:
            # Linear in the object's size; diagnostics are few, objects small.
            for i, k in enumerate(node):
                if k == token:
                    key.append(i)
                    break
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            key.append(int(token))
            node = node[int(token)]
        else:
            key.append(1 << 30)
            break
    return tuple(key)
