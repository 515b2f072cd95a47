// admin_cluster.js -- the console over the nodes of a cluster (docs/operations.md, "Seeing the
// whole cluster"). GET /api/nodes names the live nodes; every node's own admin API is reached
// through the node that answers, as /api/nodes/N/... (a browser cannot reach the nodes' private
// addresses, and a load balancer would send each request anywhere); listings are asked of
// every node and merged here. Peer, report and ban ids carry their node (node × 2^42 +
// serial). With one node (no redis_url, or an older server) nothing here changes a path: the
// console talks to /api/... as it always did. Loaded before admin.js, whose api() it uses.
'use strict';

const NODES_EVERY_MS = 10000; // the list of nodes is read again at most this often

const cluster = { nodes: [], self: 0, multi: false, at: 0, loading: null, session: -1 };

// The live nodes (re-read when older than NODES_EVERY_MS, or when force): sets cluster.multi
// when more than one node answers for the cluster.
async function clusterNodes(force) {
  const fresh = cluster.session === st.session && Date.now() - cluster.at < NODES_EVERY_MS;
  if (fresh && !force) return cluster;
  if (cluster.loading) return cluster.loading;
  cluster.loading = (async () => {
    try {
      const j = await api('/api/nodes');
      const nodes = Array.isArray(j.nodes) ? j.nodes.filter((n) => Number.isInteger(n.node)) : [];
      Object.assign(cluster, { nodes: nodes.map((n) => n.node), self: j.self || 0,
        multi: (j.self || 0) > 0 && nodes.length > 1 });
    } catch (e) {
      if (e.status !== 404 && e.status !== 405) throw e;
      Object.assign(cluster, { nodes: [], self: 0, multi: false }); // an older server: one node
    } finally {
      cluster.loading = null;
    }
    cluster.at = Date.now();
    cluster.session = st.session;
    return cluster;
  })();
  return cluster.loading;
}

// An /api/... path of `node`'s own API: through /api/nodes/N/ in a cluster, as is alone.
const onNode = (node, path) => (cluster.multi && Number.isInteger(node) ? `/api/nodes/${node}/${path.slice(5)}` : path);

// Words for the nodes that failed a gathering: "node 3: no answer (504)".
const nodeErrors = (errors) => errors.map(({ node, e }) => `node ${node}: ${errText(e)}`).join('; ');

// Every node's answer to path: {answers: [{node, j}], errors: [{node, e}]}. Alone: the one
// answer, node null. A cancelled session or a refused token ends it all (thrown).
async function askEvery(path) {
  await clusterNodes();
  if (!cluster.multi) return { answers: [{ node: null, j: await api(path) }], errors: [] };
  const nodes = cluster.nodes.slice();
  const got = await Promise.allSettled(nodes.map((n) => api(onNode(n, path))));
  const answers = [];
  const errors = [];
  got.forEach((g, i) => {
    if (g.status === 'fulfilled') answers.push({ node: nodes[i], j: g.value });
    else if (quiet(g.reason)) throw g.reason;
    else errors.push({ node: nodes[i], e: g.reason });
  });
  if (errors.length) clusterNodes(true).catch(() => {}); // a node gone: the list is re-read
  return { answers, errors };
}

// A listing of every node (key: 'peers'...), each item tagged with its node (null alone).
async function gather(path, key) {
  const { answers, errors } = await askEvery(path);
  const items = [];
  for (const { node, j } of answers) for (const x of (j && Array.isArray(j[key]) ? j[key] : [])) items.push({ ...x, node });
  return { items, errors, answers };
}

// One page of a listing merged across nodes: `limit` rows in order (by `by`, then id; newest
// first, or oldest first with asc), each node read from its own cursor. cursors: {node: id}
// where that node's next page starts (absent: its first page; null: it has no more).
// base is the path with its query, without the cursor; param the cursor's name (before_id or
// after_id) and nextKey the answer's (next_before_id...). Alone: the server's own paging.
// alone: this node's answer only (a listing that is the cluster's on any node).
// Returns {items, cursors (for the next page), more, errors}.
async function gatherPage({ base, key, limit, cursors = {}, param, nextKey, by, asc = false, alone = false }) {
  await clusterNodes();
  const sep = base.includes('?') ? '&' : '?';
  if (!cluster.multi || alone) {
    const c = cursors.single;
    const j = await api(`${base}${sep}limit=${limit}${c ? `&${param}=${c}` : ''}`);
    const next = j[nextKey] || null;
    return { items: j[key] || [], cursors: { single: next }, more: !!next, errors: [] };
  }
  const nodes = cluster.nodes.filter((n) => cursors[n] !== null);
  const got = await Promise.allSettled(nodes.map((n) => api(onNode(n,
    `${base}${sep}limit=${limit}${cursors[n] ? `&${param}=${cursors[n]}` : ''}`))));
  const all = [];
  const nextOf = {};
  const errors = [];
  got.forEach((g, i) => {
    const n = nodes[i];
    if (g.status === 'rejected') {
      if (quiet(g.reason)) throw g.reason;
      errors.push({ node: n, e: g.reason });
      return;
    }
    for (const x of g.value[key] || []) all.push({ ...x, node: n });
    nextOf[n] = g.value[nextKey] || null;
  });
  const sign = asc ? 1 : -1;
  all.sort((a, b) => sign * ((a[by] || 0) - (b[by] || 0) || a.id - b.id));
  const items = all.slice(0, limit);
  // A node whose rows were all shown goes on from its own next cursor; one cut short, from
  // its last row shown (or where it was, when none was shown).
  const next = { ...cursors };
  for (const n of Object.keys(nextOf).map(Number)) {
    const mine = all.filter((x) => x.node === n);
    const shown = items.filter((x) => x.node === n);
    if (shown.length === mine.length) next[n] = nextOf[n];
    else if (shown.length) next[n] = shown.reduce((m, x) => (asc ? Math.max(m, x.id) : Math.min(m, x.id)), shown[0].id);
  }
  if (errors.length) clusterNodes(true).catch(() => {});
  return { items, cursors: next, more: Object.values(next).some((c) => c !== null), errors };
}

// A small "node N" tag for a row or tile of a cluster (nothing alone).
const nodeTag = (node) => (cluster.multi && Number.isInteger(node)
  ? el('span', { class: 'node', title: `On node ${node}`, text: `node ${node}` }) : null);
