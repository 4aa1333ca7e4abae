<?php

declare(strict_types=1);

namespace Herald\Mercure;

use Symfony\Component\Mercure\Exception\InvalidArgumentException;
use Symfony\Component\Mercure\Exception\RuntimeException;
use Symfony\Component\Mercure\HubInterface;
use Symfony\Component\Mercure\Jwt\CallableTokenProvider;
use Symfony\Component\Mercure\Jwt\FactoryTokenProvider;
use Symfony\Component\Mercure\Jwt\TokenFactoryInterface;
use Symfony\Component\Mercure\Jwt\TokenProviderInterface;
use Symfony\Component\Mercure\Update;

/**
 * symfony/mercure's hub for Herald: publish() hands the Update to
 * herald-relay through the herald extension's herald_mercure_publish() (a
 * copy into the shared-memory ring the PHP process keeps with the relay, or
 * one write on its Unix socket), instead of an HTTP request to a hub. The
 * relay's Mercure front (/.well-known/mercure) serves the subscribers, so
 * browsers keep their EventSource as it is.
 *
 * The id is returned at once: the one the Update has, or the urn:uuid: the
 * extension makes, which is the id subscribers see. The URLs, the token
 * provider and the token factory are what Symfony's own Hub has them for:
 * the discovery Link header, and the mercureAuthorization cookie
 * (Authorization::setCookie() asks the factory for the subscriber's JWT).
 */
final class HeraldHub implements HubInterface
{
    private string $url;

    private ?string $publicUrl;

    private ?TokenProviderInterface $provider;

    private ?TokenFactoryInterface $factory;

    /**
     * The arguments of Symfony's Hub, in its order, all but the URL optional.
     *
     * @param string                      $url       the relay's /.well-known/mercure, as PHP would reach it
     * @param TokenProviderInterface|null $provider  a publisher JWT, for code that asks the hub for one
     *                                               (publishing through Herald needs none); null: one minted
     *                                               by $factory with publish ['*'], or none
     * @param TokenFactoryInterface|null  $factory   mints the subscribers' JWTs (the cookie); HS256 with the
     *                                               relay's key: Hs256TokenFactory
     * @param string|null                 $publicUrl the hub URL browsers use, when it is not $url
     */
    public function __construct(
        string $url,
        ?TokenProviderInterface $provider = null,
        ?TokenFactoryInterface $factory = null,
        ?string $publicUrl = null
    ) {
        $this->url = $url;
        $this->provider = $provider;
        $this->factory = $factory;
        $this->publicUrl = $publicUrl;
    }

    public function getUrl(): string
    {
        return $this->url;
    }

    public function getPublicUrl(): string
    {
        return $this->publicUrl ?? $this->url;
    }

    public function getProvider(): TokenProviderInterface
    {
        if ($this->provider === null) {
            $this->provider = $this->factory !== null
                ? new FactoryTokenProvider($this->factory, [], ['*'])
                : new CallableTokenProvider(static function (): string {
                    throw new RuntimeException('HeraldHub publishes through the herald extension and has no publisher JWT: pass a token provider to its constructor for code that needs one');
                });
        }

        return $this->provider;
    }

    public function getFactory(): ?TokenFactoryInterface
    {
        return $this->factory;
    }

    /**
     * @throws InvalidArgumentException for an update the hub would refuse (a topic, id, type or retry the
     *                                  Mercure protocol does not allow, data that is not UTF-8)
     * @throws RuntimeException         when the relay did not take it (down, its ring and socket full past
     *                                  herald.timeout_ms...), with herald_last_error()'s reason
     */
    public function publish(Update $update): string
    {
        if (!\function_exists('herald_mercure_publish')) {
            throw new RuntimeException('Failed to send an update: the herald PHP extension is not loaded (php --ri herald)');
        }
        try {
            $id = herald_mercure_publish(
                $update->getTopics(),
                $update->getData(),
                $update->isPrivate(),
                $update->getId(),
                $update->getType(),
                $update->getRetry()
            );
        } catch (\ValueError|\TypeError $e) {
            throw new InvalidArgumentException('Invalid update: ' . $e->getMessage(), 0, $e);
        }
        if ($id === false) {
            throw new RuntimeException('Failed to send an update: ' . (herald_last_error() ?? 'unknown error'));
        }

        return $id;
    }
}
