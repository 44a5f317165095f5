"""The hosts pgc may reach (issue 21, item 3): nothing by default, only what the operator
allows, and never link-local, metadata or otherwise unreachable-by-design addresses."""

from __future__ import annotations

import pytest

from pgc.hosts import HostPolicy, HostRefused
from pgc.options import Options


def resolver(table: dict[str, list[str]]):
    def resolve(host: str) -> list[str]:
        if host not in table:
            raise OSError("no such name")
        return table[host]

    return resolve


PUBLIC = resolver({
    "earth-search.aws.element84.com": ["52.1.2.3"],
    "data.example.com": ["93.184.216.34", "2606:2800:220:1::1"],
    "rebind.example.com": ["169.254.169.254"],
    "inside.example.com": ["10.0.0.5"],
    "local.example.com": ["127.0.0.1"],
    "v6meta.example.com": ["fd00:ec2::254"],
    "mapped.example.com": ["::ffff:169.254.169.254"],
})  # fmt: skip


def refused(policy: HostPolicy, url: str) -> str:
    with pytest.raises(HostRefused) as caught:
        policy.check(url, PUBLIC)
    return str(caught.value)


def test_nothing_is_reachable_by_default():
    assert Options().allowed_hosts == ()
    assert "not on the allowed hosts" in refused(HostPolicy(), "https://data.example.com/x.tif")


def test_allowed_hosts_schemes_and_ports():
    policy = HostPolicy(("earth-search.aws.element84.com", "*.example.com",
                         "http://127.0.0.1:8080", "[::1]:9000"))  # fmt: skip
    ok = ["https://earth-search.aws.element84.com/v1/search",
          "https://data.example.com/a/b.tif", "http://127.0.0.1:8080/x.tif",
          "https://127.0.0.1:8080/x.tif", "https://[::1]:9000/c"]  # fmt: skip
    for url in ok:
        assert policy.check(url, PUBLIC) == url
    for url, why in [
        ("http://earth-search.aws.element84.com/v1", "not on the allowed hosts"),  # https only
        ("https://earth-search.aws.element84.com:8443/v1", "not on the allowed hosts"),
        ("https://example.com/x", "not on the allowed hosts"),  # *.example.com: subdomains
        ("https://evil.com/data.example.com", "not on the allowed hosts"),
        ("http://127.0.0.1:8081/x", "not on the allowed hosts"),
        ("ftp://data.example.com/x", "only http(s)"),
        ("file:///etc/passwd", "only http(s)"),
        ("https://user:pw@data.example.com/x", "credentials"),
    ]:
        assert why in refused(policy, url), url


def test_never_link_local_or_metadata_even_when_allowed():
    policy = HostPolicy(("*.example.com", "169.254.169.254", "http://169.254.169.254",
                         "[fe80::1]", "0.0.0.0"))  # fmt: skip
    assert "link-local" in refused(policy, "http://169.254.169.254/latest/meta-data/")
    assert "link-local" in refused(policy, "https://[fe80::1]/x")
    assert "link-local" in refused(policy, "https://rebind.example.com/x")  # DNS to metadata
    assert "link-local" in refused(policy, "https://mapped.example.com/x")  # IPv4-mapped
    assert "metadata" in refused(policy, "https://v6meta.example.com/x")
    assert "not an address of a server" in refused(policy, "https://0.0.0.0/x")


def test_internal_addresses_only_when_named_themselves():
    policy = HostPolicy(("*.example.com", "http://127.0.0.1:8080"))
    assert "internal address" in refused(policy, "https://inside.example.com/x")
    assert "internal address" in refused(policy, "https://local.example.com/x")
    assert policy.check("http://127.0.0.1:8080/x", PUBLIC)
    assert "does not resolve" in refused(policy, "https://nowhere.example.com/x")


def test_options_carry_the_list_and_refuse_a_malformed_entry():
    assert Options.from_env({"PGC_ALLOWED_HOSTS": "a.org, http://127.0.0.1:8080"}).allowed_hosts \
        == ("a.org", "http://127.0.0.1:8080")
    for bad in ("ftp://a.org", "a.org/path", "a.org:http", "user@a.org"):
        with pytest.raises(ValueError):
            Options(allowed_hosts=(bad,))
