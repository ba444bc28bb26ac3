<?php

declare(strict_types=1);

// The master connection the entrypoint uses at start: TLS with certificate verification,
// retried until the database answers, every statement with bound parameters (identifiers
// are validated in config.php and quoted here).

namespace RedcapImage;

final class Database
{
    private function __construct(public readonly \mysqli $conn)
    {
    }

    public static function connect(DbConfig $db, MasterCredentials $master, callable $log): self
    {
        mysqli_report(MYSQLI_REPORT_ERROR | MYSQLI_REPORT_STRICT);
        $deadline = time() + $db->connectTimeout;
        $attempt = 0;
        while (true) {
            $attempt++;
            try {
                $conn = mysqli_init();
                $conn->options(MYSQLI_OPT_CONNECT_TIMEOUT, 10);
                $conn->options(MYSQLI_OPT_SSL_VERIFY_SERVER_CERT, true);
                $conn->ssl_set(null, null, $db->caBundle, null, null);
                $conn->real_connect($db->host, $master->username, $master->password, null, $db->port, null, MYSQLI_CLIENT_SSL);
                $conn->set_charset('utf8mb4');
                return new self($conn);
            } catch (\mysqli_sql_exception $e) {
                if (time() >= $deadline) {
                    throw new \RuntimeException("cannot connect to the database at {$db->host}:{$db->port} as the master user: " . $e->getMessage());
                }
                $log("database not reachable yet (attempt $attempt: " . $e->getMessage() . '), retrying');
                sleep(min(2 ** min($attempt, 4), 15, max(1, $deadline - time())));
            }
        }
    }

    public static function ident(string $name): string
    {
        if (!preg_match('/^[A-Za-z0-9_]{1,64}$/', $name)) {
            throw new \InvalidArgumentException('invalid SQL identifier');
        }
        return '`' . $name . '`';
    }

    public function quote(string $value): string
    {
        return "'" . $this->conn->real_escape_string($value) . "'";
    }

    public function exec(string $sql): void
    {
        $this->conn->query($sql);
    }

    /**
     * @param list<string|int|null> $params
     * @return list<array<string,mixed>>
     */
    public function rows(string $sql, array $params = []): array
    {
        $stmt = $this->conn->prepare($sql);
        if ($params !== []) {
            $stmt->bind_param(str_repeat('s', count($params)), ...array_map(fn ($p) => $p === null ? null : (string) $p, $params));
        }
        $stmt->execute();
        $result = $stmt->get_result();
        $rows = $result === false ? [] : $result->fetch_all(MYSQLI_ASSOC);
        $stmt->close();
        return $rows;
    }

    /** @param list<string|int|null> $params */
    public function value(string $sql, array $params = []): mixed
    {
        $rows = $this->rows($sql, $params);
        return $rows === [] ? null : array_values($rows[0])[0];
    }

    /** @param list<string|int|null> $params */
    public function run(string $sql, array $params = []): int
    {
        $stmt = $this->conn->prepare($sql);
        if ($params !== []) {
            $stmt->bind_param(str_repeat('s', count($params)), ...array_map(fn ($p) => $p === null ? null : (string) $p, $params));
        }
        $stmt->execute();
        $n = $stmt->affected_rows;
        $stmt->close();
        return (int) $n;
    }

    /** Runs $fn in a transaction, committed when it returns, rolled back when it throws. */
    public function transaction(callable $fn): mixed
    {
        $this->conn->begin_transaction();
        try {
            $r = $fn($this);
            $this->conn->commit();
            return $r;
        } catch (\Throwable $e) {
            $this->conn->rollback();
            throw $e;
        }
    }

    /** A server-wide advisory lock, so tasks that start together bootstrap one at a time. */
    public function lock(string $name, int $timeoutSeconds): void
    {
        $got = $this->value('SELECT GET_LOCK(?, ?)', [$name, $timeoutSeconds]);
        if ((string) $got !== '1') {
            throw new \RuntimeException("another task held the start-up lock for more than {$timeoutSeconds}s");
        }
    }

    public function unlock(string $name): void
    {
        $this->value('SELECT RELEASE_LOCK(?)', [$name]);
    }
}
