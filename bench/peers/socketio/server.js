// The peer: the stack the chat service replaces (Node.js + Socket.IO 4 + pg), doing the
// same jobs on the same schema, in its fair tuned configuration: WebSocket transport
// only, bufferutil installed (Socket.IO's ws picks it up), no per-message deflate, no
// HTTP long-polling, a pg pool of 24 (PostgreSQL group-commits only with 16-32 in
// flight), user existence cached for 60 s like ours.
//
// Env: DATABASE_URL, CHAT_JWT_SECRET, PEER_BIND (host:port), PEER_DB_POOL_SIZE.
//
// Events (Socket.IO acks carry the replies):
//   ping -> {type:"pong"}; join-support-queue (admins) -> {ok:true};
//   support-message {content, clientMessageId} -> the stored message;
//   dm-message {conversationId, content, clientMessageId} -> the stored message;
//   admin-notification (admins) {userIds, content, template} -> {id, recipientCount};
//   typing {conversationId, isTyping} -> no reply.
// Pushes: "support-message" / "dm-message" with {type, conversationId, message}, the
// same payload as ours, to the participants' rooms (user:<id>) and support to "admins";
// "admin-notification" and "typing" with our payloads, to the same users as ours.
//
// Notices and typing measure Socket.IO's fan-out alone (`io.to(rooms).emit`): a notice
// is pushed at once and stored nowhere, and typing checks the sender's membership of the
// DM once per socket and conversation (cached, as ours does) and nothing per event.
'use strict';
const http = require('http');
const { Server } = require('socket.io');
const jwt = require('jsonwebtoken');
const { Pool } = require('pg');

const secret = process.env.CHAT_JWT_SECRET;
if (!secret || secret.length < 32) throw new Error('CHAT_JWT_SECRET (>= 32 bytes) is required');
const [host, port] = (process.env.PEER_BIND || '127.0.0.1:9200').split(':');
const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.PEER_DB_POOL_SIZE || 24) });

const known = new Map(); // user id -> expiry (ms)
async function userExists(id) {
  const exp = known.get(id);
  if (exp && exp > Date.now()) return true;
  const r = await pool.query('SELECT 1 FROM users WHERE id = $1', [id]);
  if (r.rowCount === 1) known.set(id, Date.now() + 60000);
  return r.rowCount === 1;
}

const MESSAGE = `SELECT m.id, m.conversation_id, m.seq, m.sender_id, m.sender_type, m.content, m.message_type,
  m.client_message_id, m.created_at, u.display_name AS sender_name FROM m JOIN users u ON u.id = m.sender_id`;

function view(row) {
  return {
    id: Number(row.id), conversationId: Number(row.conversation_id), seq: Number(row.seq),
    sender: { type: row.sender_type, id: row.sender_id, name: row.sender_name },
    messageType: row.message_type, content: row.content, clientMessageId: row.client_message_id,
    createdAt: row.created_at, hidden: false,
  };
}

function validContent(c) {
  return typeof c === 'string' && c.trim().length >= 1 && c.length <= 4000;
}

// One transaction: lock the conversation, idempotency lookup, insert with the next seq,
// update counters. `side` is 1 or 2 (the sender's side).
async function append(client, conv, userId, side, content, clientMessageId) {
  if (clientMessageId) {
    const dup = await client.query(
      `WITH m AS (SELECT * FROM dm_messages WHERE conversation_id = $1 AND client_message_id = $2) ${MESSAGE}`,
      [conv.id, clientMessageId]);
    if (dup.rowCount) return { row: dup.rows[0], created: false };
  }
  const ins = await client.query(
    `WITH m AS (INSERT INTO dm_messages (conversation_id, seq, sender_id, sender_type, content, message_type, client_message_id)
     VALUES ($1, $2, $3, 'real_user', $4, 'text', $5) RETURNING *) ${MESSAGE}`,
    [conv.id, Number(conv.last_seq) + 1, userId, content.trim(), clientMessageId || null]);
  const m = ins.rows[0];
  const other = side === 1 ? 2 : 1;
  const support = conv.conversation_type === 'support';
  await client.query(
    `UPDATE direct_messages SET last_seq = $2, last_message_id = $3, last_message_at = $4, updated_at = now(),
       user${side}_last_read_id = $3, user${side}_unread = 0, user${other}_unread = user${other}_unread + 1,
       user${side}_archived_at = NULL, user${other}_archived_at = NULL
       ${support ? ", support_status = 'open', waiting_since = COALESCE(waiting_since, $4)" : ''}
     WHERE id = $1`, [conv.id, m.seq, m.id, m.created_at]);
  return { row: m, created: true };
}

async function tx(fn) {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const r = await fn(client);
    await client.query('COMMIT');
    return r;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => {});
    throw e;
  } finally {
    client.release();
  }
}

const server = http.createServer((req, res) => { res.writeHead(404); res.end(); });
const io = new Server(server, {
  transports: ['websocket'],
  perMessageDeflate: false,
  httpCompression: false,
  serveClient: false,
  cors: { origin: false },
});

io.use(async (socket, next) => {
  try {
    const claims = jwt.verify(socket.handshake.auth && socket.handshake.auth.token, secret, { algorithms: ['HS256'] });
    const id = Number(claims.sub);
    if (!Number.isInteger(id) || !(await userExists(id))) return next(new Error('unauthorized'));
    socket.data.user = id;
    socket.data.admin = claims.role === 'admin';
    next();
  } catch (e) {
    next(new Error('unauthorized'));
  }
});

// The "info" template's colours, as ours renders them.
const INFO = { template: 'info', backgroundColor: '#f0f9ff', textColor: '#0369a1', borderColor: '#38bdf8' };
let notices = 0;

io.on('connection', (socket) => {
  const me = socket.data.user;
  const dms = new Map(); // conversation id -> the DM's users, for typing
  socket.join(`user:${me}`);
  socket.on('ping', (_d, ack) => typeof ack === 'function' && ack({ type: 'pong' }));
  socket.on('join-support-queue', (_d, ack) => {
    if (typeof ack !== 'function') return;
    if (!socket.data.admin) return ack({ error: 'forbidden' });
    socket.join('admins');
    ack({ ok: true });
  });
  socket.on('admin-notification', (d, ack) => {
    if (typeof ack !== 'function') return;
    if (!socket.data.admin) return ack({ error: 'forbidden' });
    if (!d || !Array.isArray(d.userIds) || !validContent(d.content)) return ack({ error: 'invalid' });
    notices += 1;
    io.to(d.userIds.map((u) => `user:${u}`)).emit('admin-notification', {
      type: 'admin-notification', notificationId: notices, content: d.content, align: 'center', style: INFO, expiresAt: null,
    });
    ack({ id: notices, recipientCount: d.userIds.length });
  });
  socket.on('typing', async (d) => {
    if (!d || !Number.isInteger(d.conversationId)) return;
    let users = dms.get(d.conversationId);
    if (!users) {
      const r = await pool.query(`SELECT user1_id, user2_id FROM direct_messages WHERE id = $1 AND conversation_type = 'user_dm'`,
        [d.conversationId]).catch(() => null);
      const row = r && r.rows[0];
      if (!row || (row.user1_id !== me && row.user2_id !== me)) return;
      users = [row.user1_id, row.user2_id].filter((u) => u !== null);
      dms.set(d.conversationId, users);
    }
    io.to(users.map((u) => `user:${u}`)).emit('typing', {
      type: 'typing', conversationId: d.conversationId, sender: { type: 'real_user', id: me }, isTyping: d.isTyping !== false,
    });
  });
  socket.on('support-message', async (d, ack) => {
    if (typeof ack !== 'function') return;
    if (!d || !validContent(d.content)) return ack({ error: 'invalid' });
    try {
      const { row } = await tx(async (c) => {
        let conv = await c.query(`SELECT * FROM direct_messages WHERE conversation_type = 'support' AND user1_id = $1`, [me]);
        if (!conv.rowCount) {
          await c.query(`INSERT INTO direct_messages (conversation_type, user1_id, user2_type, support_status)
            VALUES ('support', $1, 'support', 'open') ON CONFLICT DO NOTHING`, [me]);
        }
        conv = await c.query(`SELECT * FROM direct_messages WHERE conversation_type = 'support' AND user1_id = $1 FOR UPDATE`, [me]);
        return append(c, conv.rows[0], me, 1, d.content, d.clientMessageId);
      });
      const message = view(row);
      io.to([`user:${me}`, 'admins']).emit('support-message', { type: 'support-message', conversationId: message.conversationId, message });
      ack(message);
    } catch (e) {
      ack({ error: 'internal' });
    }
  });
  socket.on('dm-message', async (d, ack) => {
    if (typeof ack !== 'function') return;
    if (!d || !Number.isInteger(d.conversationId) || !validContent(d.content)) return ack({ error: 'invalid' });
    try {
      const r = await tx(async (c) => {
        const conv = await c.query(`SELECT * FROM direct_messages WHERE id = $1 AND conversation_type = 'user_dm' FOR UPDATE`, [d.conversationId]);
        const row = conv.rows[0];
        if (!row || (row.user1_id !== me && row.user2_id !== me)) return null;
        const other = row.user1_id === me ? row.user2_id : row.user1_id;
        if (other !== null) {
          const b = await c.query(`SELECT EXISTS (SELECT 1 FROM chat_user_blocks WHERE (blocker_id = $1 AND blocked_id = $2)
            OR (blocker_id = $2 AND blocked_id = $1)) AS blocked`, [me, other]);
          if (b.rows[0].blocked) return null;
        }
        const out = await append(c, row, me, row.user1_id === me ? 1 : 2, d.content, d.clientMessageId);
        return { ...out, users: [row.user1_id, row.user2_id].filter((u) => u !== null) };
      });
      if (!r) return ack({ error: 'not_found' });
      const message = view(r.row);
      io.to(r.users.map((u) => `user:${u}`)).emit('dm-message', { type: 'dm-message', conversationId: message.conversationId, message });
      ack(message);
    } catch (e) {
      ack({ error: 'internal' });
    }
  });
});

server.listen(Number(port), host, () => console.error(`socket.io peer listening on ${host}:${port}`));
