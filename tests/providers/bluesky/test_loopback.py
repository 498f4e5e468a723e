"""loopback.mjs, which confines the Bluesky network to 127.0.0.1, checked in a Node process of
its own: servers bind 127.0.0.1, loopback works, anything else is refused and logged."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.providers.bluesky.network import HERE, NODE, unavailable

pytestmark = pytest.mark.integration

SCRIPT = """
import { LOOPBACK } from %(loopback)s
import dns from 'node:dns'
import { lookup as namedLookup } from 'node:dns'
import http from 'node:http'
import net from 'node:net'

const results = { loopback: LOOPBACK }
const server = http.createServer((req, res) => res.end('ok'))
await new Promise((resolve) => server.listen(0, resolve))
const { address, port } = server.address()
results.listening = address
results.local = await (await fetch(`http://localhost:${port}/`)).text()
const other = net.createServer()
await new Promise((resolve) => other.listen({ port: 0 }, resolve))
results.listeningOptions = other.address().address
other.close()
for (const url of ['http://example.com/', 'https://example.com/', 'http://93.184.215.14/']) {
  try {
    await fetch(url)
    results[url] = 'reached'
  } catch (err) {
    results[url] = err.cause?.code ?? err.code ?? String(err)
  }
}
try {
  await dns.promises.lookup('example.com')
  results.lookup = 'resolved'
} catch (err) {
  results.lookup = err.code
}
results.namedLookup = await new Promise((resolve) =>
  namedLookup('example.com', (err) => resolve(err ? err.code : 'resolved')),
)
results.localhostLookup = (await dns.promises.lookup('localhost')).address
try {
  await dns.promises.resolveTxt('_atproto.example.com')
  results.txt = 'answered'
} catch (err) {
  results.txt = err.code
}
server.close()
console.log(JSON.stringify(results))
"""


def test_the_guard_keeps_a_node_process_on_loopback(tmp_path: Path) -> None:
    reason = unavailable()
    if reason:
        pytest.skip(reason)
    script = tmp_path / "check.mjs"
    script.write_text(SCRIPT % {"loopback": json.dumps((HERE / "loopback.mjs").as_uri())})
    done = subprocess.run(
        [str(NODE), str(script)], capture_output=True, text=True, timeout=60, check=True
    )
    results = json.loads(done.stdout)
    assert results["listening"] == results["listeningOptions"] == "127.0.0.1"
    assert results["local"] == "ok"
    assert results["http://example.com/"] == "ECONNREFUSED"
    assert results["https://example.com/"] == "ECONNREFUSED"
    assert results["http://93.184.215.14/"] == "ECONNREFUSED"
    assert results["lookup"] == results["namedLookup"] == "ENOTFOUND"
    assert results["localhostLookup"] == "127.0.0.1"
    assert results["txt"] != "answered"
    refusals = [line for line in done.stderr.splitlines() if line.startswith("devnet: refused")]
    assert len(refusals) == 5, done.stderr
