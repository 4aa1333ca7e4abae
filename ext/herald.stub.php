<?php

/**
 * The single source of the herald extension's PHP signatures (documented in
 * docs/PHP.md). herald_arginfo.h is generated from this file with PHP's
 * build/gen_stub.php: run `make arginfo` after changing it and commit both.
 * The documented stubs for IDEs and static analysers are in packages/herald-stubs/stubs/herald.php.
 *
 * @generate-function-entries
 */

function sse_emit(string|array $channel, mixed $data, ?string $event = null, ?int $retry = null): bool {}

function ws_publish(string|array $channel, mixed $data, bool $binary = false): bool {}

/**
 * One message to every subscriber of the channels, whatever their transport
 * (SSE, raw WebSocket, herald.v1), with one id.
 */
function herald_publish(string|array $channel, mixed $data, ?string $event = null, ?string $except = null): bool {}

function herald_last_error(): ?string {}

function herald_flush(): bool {}

/**
 * A list of channels mints a subscription token; an array of claims
 * ['channels' => [...], 'publish' => [...]] (either or both) a token with
 * those lists, 'publish' being what POST /publish lets its bearer publish to.
 */
function herald_token(array $channels, int $ttl = 3600): string {}

/**
 * The events of the relay's hook request (a POST through PHP-FPM), after
 * checking its X-Herald-Signature against herald.secret: a list of
 * associative arrays. Throws UnexpectedValueException on a request that is
 * not one (no secret, no or bad signature, body not {"v":1,"events":[...]}).
 */
function herald_hook_events(): array {}

/** $data to one connection (a hook event's "conn"), on whichever relay holds it. */
function herald_send(string $connection, mixed $data, bool $binary = false): bool {}

/** $data to every connection of one user, on every relay. */
function herald_send_user(string $user, mixed $data, bool $binary = false): bool {}

/**
 * The members of a presence channel, a list of ['user' => ..., 'info' => ...];
 * null when the relay cannot say (herald_last_error() says why).
 */
function herald_presence(string $channel): ?array {}

/**
 * A Mercure update (docs/SYMFONY.md) to the channels of its topics: the
 * relay's Mercure subscribers, and SSE/WebSocket subscribers of those
 * channels when it is not private. Returns its id ($id, or a new
 * urn:uuid:), false when the relay did not take it (herald_last_error()).
 */
function herald_mercure_publish(string|array $topics, string $data = '', bool $private = false, ?string $id = null, ?string $type = null, ?int $retry = null): string|false {}

/** The channel a Mercure topic maps to, the relay's encoding. */
function herald_mercure_channel(string $topic): string {}
