<?php

/**
 * Stubs of the herald PHP extension, for IDEs and static analysers.
 *
 * The functions below are implemented in C by the extension (pecl install
 * herald). This file only describes them: the composer package herald/herald-stubs
 * does not autoload it, so nothing is declared at run time, and it must never
 * be included by application code. Point your tools at it instead: PhpStorm
 * indexes vendor/ by itself; PHPStan: `scanFiles: [vendor/herald/herald-stubs/stubs/herald.php]`;
 * Psalm: `<stubs><file name="vendor/herald/herald-stubs/stubs/herald.php"/></stubs>`.
 *
 * A channel name is 1 to 200 bytes of A-Z a-z 0-9 _ . : @ = / -
 *
 * @see docs/PHP.md in the Herald repository: install, INI entries, error model
 */

/**
 * Publish a message to the Server-Sent Events subscribers of one channel, or
 * of several channels at once (one message: a browser subscribed to several
 * of them receives it once).
 *
 * A string $data is sent as it is and must be valid UTF-8; any other value is
 * JSON-encoded (as json_encode() with JSON_UNESCAPED_SLASHES and
 * JSON_UNESCAPED_UNICODE). The call writes one frame to the herald relay over
 * a connection that the process keeps open, and never takes longer than
 * herald.timeout_ms.
 *
 * @param string|list<string> $channel one channel name or a non-empty list of them
 * @param mixed $data the event data: a UTF-8 string, or anything JSON can encode
 * @param string|null $event the SSE event name (no CR or LF); null for the default "message"
 * @param int|null $retry an SSE reconnection hint for browsers, in ms (> 0)
 * @return bool true once the relay has the message (acknowledged when
 *              herald.ack=1); false when it could not be delivered, with the
 *              reason in herald_last_error() (no warning unless herald.warnings=1)
 * @throws ValueError for an invalid channel name, CR/LF in $event, $retry < 1, or text that is not UTF-8
 * @throws TypeError for arguments of the wrong type, or a channel list holding a non-string
 * @throws JsonException when $data cannot be JSON-encoded
 */
function sse_emit(string|array $channel, mixed $data, ?string $event = null, ?int $retry = null): bool {}

/**
 * Publish a message to the WebSocket subscribers of one channel, or of
 * several channels at once.
 *
 * A string $data goes as a text frame and must be valid UTF-8, or, with
 * $binary = true, as a binary frame with any bytes; any other value is
 * JSON-encoded and sent as a text frame.
 *
 * @param string|list<string> $channel one channel name or a non-empty list of them
 * @param mixed $data a string, or anything JSON can encode (a string only when $binary is true)
 * @param bool $binary send $data as a binary WebSocket frame
 * @return bool true once the relay has the message; false when it could not
 *              be delivered, with the reason in herald_last_error() (no warning
 *              unless herald.warnings=1)
 * @throws ValueError for an invalid channel name, or text that is not UTF-8
 * @throws TypeError for arguments of the wrong type, or non-string $data with $binary = true
 * @throws JsonException when $data cannot be JSON-encoded
 */
function ws_publish(string|array $channel, mixed $data, bool $binary = false): bool {}

/**
 * Publish one message to every subscriber of one channel, or of several
 * channels at once, whatever their transport: Server-Sent Events, raw
 * WebSocket and herald.v1 WebSocket subscribers all receive it, with one id
 * (the SSE id; herald.v1 clients resume past it too).
 *
 * A string $data is sent as it is and must be valid UTF-8 (SSE subscribers
 * get it as the event data, raw WebSocket subscribers as a text frame,
 * herald.v1 clients as a JSON string). Any other value (array, object, int,
 * float, bool, null) is JSON-encoded as sse_emit() does it; SSE and raw
 * WebSocket subscribers get that JSON text, herald.v1 clients the value
 * itself. Batching (herald.batch), acknowledgements (herald.ack) and the
 * shared ring work as for sse_emit().
 *
 * @param string|list<string> $channel one channel name or a non-empty list of them
 * @param mixed $data a UTF-8 string, or anything JSON can encode
 * @param string|null $event the SSE event name (no CR or LF), also given to herald.v1 clients; null for none
 * @param string|null $except a connection id (a Pusher socket_id, a hook event's "conn") that does
 *              not receive the message: its sender (Laravel's toOthers()); null for none
 * @return bool true once the relay has the message (acknowledged when
 *              herald.ack=1); false when it could not be delivered, with the
 *              reason in herald_last_error() (no warning unless herald.warnings=1)
 * @throws ValueError for an invalid channel name, CR/LF in $event, text that is not UTF-8, or an
 *              $except that is not a connection id
 * @throws TypeError for arguments of the wrong type, or a channel list holding a non-string
 * @throws JsonException when $data cannot be JSON-encoded
 */
function herald_publish(string|array $channel, mixed $data, ?string $event = null, ?string $except = null): bool {}

/**
 * Why the last sse_emit(), ws_publish(), herald_publish(), herald_send(), herald_send_user(),
 * herald_presence(), herald_mercure_publish() or herald_flush() call of this
 * request returned false, or null when it succeeded (or none was made).
 */
function herald_last_error(): ?string {}

/**
 * Write the frames that herald.batch=1 has buffered in this process now, in
 * one write to the relay (herald.timeout_ms applies to it). Without an
 * explicit call they go out when a frame would bring the buffer to
 * herald.batch_bytes, before an acknowledged (herald.ack=1) or unbatched
 * frame, and at the end of the request (also after exit() or a fatal error).
 * A failed write drops the whole buffer: the buffered calls already returned
 * true, so this is where delivery errors surface.
 *
 * @return bool true when everything buffered was written, or nothing was
 *              buffered; false with the reason (with the number of messages
 *              dropped) in herald_last_error() (no warning unless herald.warnings=1)
 */
function herald_flush(): bool {}

/**
 * Mint a token, a JWT signed with HMAC-SHA256 (HS256) by herald.secret,
 * which must equal the relay's secret.
 *
 * Given a list of channels, it is a subscription token for private channels
 * (by default, channels whose names start with "private-"): give it to the
 * browser, which passes it as ?token=, an Authorization: Bearer header, or
 * the cookie herald_token when it opens /sse or /ws.
 *
 * Given an array of claims, ['channels' => [...], 'publish' => [...]] (either
 * or both), it carries those lists: 'publish' names what its bearer may
 * publish to through the relay's HTTP publish API (POST /publish with
 * Authorization: Bearer <token>; relay option publish_api = 1), for
 * publishers on other hosts or in other languages. A publish token
 * subscribes to nothing and a subscription token publishes nothing. Keep
 * publish tokens on servers: they are not for browsers.
 *
 * @param list<string>|array{channels?: list<string>, publish?: list<string>} $channels
 *        channel names, or prefixes followed by "*" ("team-*"; "*" alone: all),
 *        1 to 256 in each list, making a token of at most 4096 bytes (the relay's limit)
 * @param int $ttl seconds the token stays valid (1 to 31622400); the relay allows its token_skew
 * @return string the token (header.claims.signature, base64url)
 * @throws ValueError for an empty or too long list, an invalid name or pattern,
 *         an unknown claim, a list mixed with claims, a bad $ttl, or lists that would
 *         make a token longer than 4096 bytes
 * @throws TypeError for a list holding a non-string, or a claim that is not an array
 * @throws Error when herald.secret is unset or shorter than 16 bytes
 */
function herald_token(array $channels, int $ttl = 3600): string {}

/**
 * The events of the hook request the relay sent to this script (through
 * PHP-FPM, docs/PHP.md "Application hooks"): reads the body (php://input),
 * checks the X-Herald-Signature header (sha256=<hex HMAC-SHA256 of the body>)
 * against herald.secret in constant time, and decodes {"v":1,"events":[...]}.
 *
 * Each event is an array with "id", "type" ("connect", "subscribe",
 * "message" or "disconnect"), "conn" (the connection's id, for herald_send()),
 * "user" (string or null), and per type "channel", "data", "headers"
 * (connect: lower-case names), "transport", "ip". The script answers
 * {"results":[{"id":..,"ok":bool,...}]} as JSON.
 *
 * @return list<array<string, mixed>> the events, in the order the relay sent them
 * @throws UnexpectedValueException when herald.secret is unset or shorter than
 *         16 bytes, the signature header is missing, malformed or wrong, or the
 *         body is not JSON, not version 1, or its "events" is not a list of objects
 */
function herald_hook_events(): array {}

/**
 * Send $data to one connection, on whichever relay of a cluster holds it.
 * herald.v1 clients receive {"type":"reply","data":...} (no ref); raw
 * WebSocket clients the payload as it is; SSE clients the event "herald.send".
 * Goes the way publishes go (ring, herald.batch, herald.ack).
 *
 * @param string $connection the connection's id, a hook event's "conn" (1 to 64 bytes of a-z 0-9 .)
 * @param mixed $data a string as it is (UTF-8 unless $binary); any other value JSON-encoded
 *                    (herald.v1 clients receive the value itself)
 * @param bool $binary true: $data (a string) is bytes, sent as a binary WebSocket frame
 * @return bool true once the relay has the message (acknowledged when
 *              herald.ack=1); false with the reason in herald_last_error()
 * @throws ValueError for an invalid connection id, or text that is not UTF-8
 * @throws TypeError for a non-string $data with $binary = true
 * @throws JsonException when $data cannot be JSON-encoded
 */
function herald_send(string $connection, mixed $data, bool $binary = false): bool {}

/**
 * Send $data to every connection of one user (named by a connect hook, or a
 * token's "sub"), on every relay of a cluster; as herald_send().
 *
 * @param string $user 1 to 200 bytes of A-Z a-z 0-9 _ . : @ = / -
 * @param mixed $data a string as it is; any other value JSON-encoded
 * @param bool $binary true: $data (a string) is bytes
 * @return bool true once the relay has the message; false with the reason in herald_last_error()
 * @throws ValueError for an invalid user, or text that is not UTF-8
 * @throws TypeError for a non-string $data with $binary = true
 * @throws JsonException when $data cannot be JSON-encoded
 */
function herald_send_user(string $user, mixed $data, bool $binary = false): bool {}

/**
 * The members of a presence channel (by default one whose name starts with
 * "presence-"), across every relay of a cluster: always a round trip to the
 * relay on its socket, within herald.timeout_ms.
 *
 * @param string $channel a channel name
 * @return list<array{user: string, info: mixed}>|null the members sorted by user,
 *         info as the application gave it at subscribe (null when none); null when
 *         the relay cannot say (down, no answer in time, not a presence channel,
 *         presence off), with the reason in herald_last_error()
 * @throws ValueError for an invalid channel name
 */
function herald_presence(string $channel): ?array {}

/**
 * Publish a Mercure update (docs/SYMFONY.md): the relay publishes it to the
 * channel of each topic (herald_mercure_channel()), so Mercure subscribers
 * of /.well-known/mercure whose selectors match a topic receive it, and,
 * when it is not private, so do the SSE and WebSocket subscribers of those
 * channels. A private update reaches only Mercure subscribers whose JWT's
 * mercure.subscribe claim matches one of its topics. One frame into the
 * shared ring or the socket, as herald_publish(); batching (herald.batch)
 * and acknowledgements (herald.ack) work the same way.
 *
 * @param string|list<string> $topics one topic or 1 to 32 of them: 1 to 2048 bytes each of valid
 *              UTF-8 without control characters, not "*"
 * @param string $data the update's data (UTF-8)
 * @param bool $private true: only subscribers authorised for one of its topics receive it
 * @param string|null $id the update's id (1 to 256 bytes, not starting with "#", not "earliest");
 *              null for a new "urn:uuid:" + random UUID v4
 * @param string|null $type the SSE event type (not "mercure", at most 200 bytes); null or "" for none
 * @param int|null $retry the SSE reconnection time in ms (0 to 86400000); null or 0 for none
 * @return string|false the update's id, known without asking the relay; false when it could not be
 *              delivered, with the reason in herald_last_error() (no warning unless herald.warnings=1)
 * @throws ValueError for an invalid topic, id, type or retry, or $data that is not UTF-8
 * @throws TypeError for arguments of the wrong type, or a topic list holding a non-string
 */
function herald_mercure_publish(string|array $topics, string $data = '', bool $private = false, ?string $id = null, ?string $type = null, ?int $retry = null): string|false {}

/**
 * The channel a Mercure topic maps to, as the relay maps it: the topic's
 * bytes, each byte outside A-Z a-z 0-9 _ . : @ / , ; - (and "=" itself) as
 * "=" and two uppercase hex digits; when that is longer than 200 bytes,
 * "=S" and the lowercase hex SHA-256 of the topic. So sse_emit(),
 * herald_publish() and /sse?channel= can address a Mercure topic.
 *
 * herald_mercure_channel('https://x/?a=1') === 'https://x/=3Fa=3D1'
 *
 * @param string $topic a non-empty topic
 * @return string a channel name
 * @throws ValueError for an empty topic
 */
function herald_mercure_channel(string $topic): string {}
