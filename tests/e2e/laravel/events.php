<?php
/*
 * Broadcast events as applications write them: OrderShipped with Laravel's
 * defaults (its public properties are the payload, its class name the
 * event name), and Notice with broadcastAs() and broadcastWith().
 */
declare(strict_types=1);

namespace App\Events;

use Illuminate\Broadcasting\Channel;
use Illuminate\Broadcasting\EncryptedPrivateChannel;
use Illuminate\Broadcasting\InteractsWithSockets;
use Illuminate\Broadcasting\PresenceChannel;
use Illuminate\Broadcasting\PrivateChannel;
use Illuminate\Contracts\Broadcasting\ShouldBroadcastNow;

/** A channel from the test's spec: "public:x", "private:x", "presence:x", "encrypted:x". */
function channel(string $spec): Channel
{
    [$kind, $name] = explode(':', $spec, 2);

    return match ($kind) {
        'public' => new Channel($name),
        'private' => new PrivateChannel($name),
        'presence' => new PresenceChannel($name),
        'encrypted' => new EncryptedPrivateChannel($name),
    };
}

class OrderShipped implements ShouldBroadcastNow
{
    use InteractsWithSockets;

    /** @param string[] $on */
    public function __construct(public array $order, private array $on)
    {
    }

    public function broadcastOn(): array
    {
        return array_map(channel(...), $this->on);
    }
}

class Notice implements ShouldBroadcastNow
{
    use InteractsWithSockets;

    /** @param string[] $on */
    public function __construct(private string $as, private array $with, private array $on)
    {
    }

    public function broadcastOn(): array
    {
        return array_map(channel(...), $this->on);
    }

    public function broadcastAs(): string
    {
        return $this->as;
    }

    public function broadcastWith(): array
    {
        return $this->with;
    }
}
