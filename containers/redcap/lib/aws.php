<?php

declare(strict_types=1);

// RDS IAM authentication tokens in plain PHP: an AWS Signature Version 4 presigned
// `connect` request, exactly what the AWS SDKs' token generators produce, and the few
// credential sources a container has (environment, the ECS/EKS container credentials
// endpoint, EC2 instance metadata).
//
// Why not the AWS SDK for PHP: REDCap bundles its own copy (for S3) and that copy changes
// with each REDCap release; loading a second copy, or relying on REDCap's copy having the
// RDS classes, broke the seed image twice (seed issues 103 and 111). This file depends on
// nothing but PHP's hash and stream functions, so it works whatever REDCap ships.
//
// database.php includes this file several times per request (REDCap includes database.php
// on every connection), hence the function_exists/class_exists guards via require_once
// and no side effects at include time.

namespace RedcapImage;

final class AwsCredentials
{
    public function __construct(
        public readonly string $accessKeyId,
        public readonly string $secretAccessKey,
        public readonly ?string $sessionToken = null,
        // Unix time the credentials expire, null for long-lived keys.
        public readonly ?int $expiresAt = null,
    ) {
    }

    /** @return array{0:string,1:string,2:?string,3:?int} */
    public function toArray(): array
    {
        return [$this->accessKeyId, $this->secretAccessKey, $this->sessionToken, $this->expiresAt];
    }

    /** @param mixed $a */
    public static function fromArray($a): ?self
    {
        if (!is_array($a) || count($a) !== 4 || !is_string($a[0]) || !is_string($a[1])) {
            return null;
        }
        return new self($a[0], $a[1], is_string($a[2]) ? $a[2] : null, is_int($a[3]) ? $a[3] : null);
    }
}

final class CredentialsError extends \RuntimeException
{
}

/**
 * The default credential chain of the AWS SDKs, reduced to what runs in a container:
 * 1. AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN),
 * 2. the container credentials endpoint (ECS task role: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI;
 *    EKS Pod Identity and others: AWS_CONTAINER_CREDENTIALS_FULL_URI with an authorization
 *    token or token file),
 * 3. EC2 instance metadata (IMDSv2), unless AWS_EC2_METADATA_DISABLED=true.
 * Temporary credentials are cached (APCu when available, so all Apache workers share them)
 * until five minutes before they expire.
 */
final class CredentialProvider
{
    public const CACHE_KEY = 'redcap_image.aws_credentials.v1';
    public const REFRESH_MARGIN = 300;
    private const ECS_HOST = 'http://169.254.170.2';
    private const TIMEOUT_SECONDS = 2.0;

    private static ?AwsCredentials $memo = null;

    public static function get(): AwsCredentials
    {
        $now = time();
        if (self::$memo !== null && self::fresh(self::$memo, $now)) {
            return self::$memo;
        }
        $apcu = function_exists('apcu_enabled') && apcu_enabled();
        if ($apcu) {
            $cached = AwsCredentials::fromArray(apcu_fetch(self::CACHE_KEY));
            if ($cached !== null && self::fresh($cached, $now)) {
                return self::$memo = $cached;
            }
        }
        $creds = self::resolve();
        self::$memo = $creds;
        if ($apcu && $creds->expiresAt !== null) {
            apcu_store(self::CACHE_KEY, $creds->toArray(), max(1, $creds->expiresAt - self::REFRESH_MARGIN - $now));
        }
        return $creds;
    }

    /** Forgets cached credentials (tests, and after an authentication failure). */
    public static function reset(): void
    {
        self::$memo = null;
        if (function_exists('apcu_enabled') && apcu_enabled()) {
            apcu_delete(self::CACHE_KEY);
        }
    }

    private static function fresh(AwsCredentials $c, int $now): bool
    {
        return $c->expiresAt === null || $c->expiresAt - self::REFRESH_MARGIN > $now;
    }

    private static function env(string $name): ?string
    {
        $v = getenv($name);
        return ($v === false || $v === '') ? null : $v;
    }

    private static function resolve(): AwsCredentials
    {
        $id = self::env('AWS_ACCESS_KEY_ID');
        $secret = self::env('AWS_SECRET_ACCESS_KEY');
        if ($id !== null && $secret !== null) {
            return new AwsCredentials($id, $secret, self::env('AWS_SESSION_TOKEN'));
        }
        $relative = self::env('AWS_CONTAINER_CREDENTIALS_RELATIVE_URI');
        if ($relative !== null) {
            return self::fromJson(self::http('GET', self::ECS_HOST . $relative, []), 'the container credentials endpoint');
        }
        $full = self::env('AWS_CONTAINER_CREDENTIALS_FULL_URI');
        if ($full !== null) {
            self::checkFullUri($full);
            $headers = [];
            $tokenFile = self::env('AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE');
            $token = $tokenFile !== null ? @file_get_contents($tokenFile) : self::env('AWS_CONTAINER_AUTHORIZATION_TOKEN');
            if ($token === false) {
                throw new CredentialsError('cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE');
            }
            if ($token !== null) {
                $token = trim($token);
                if (preg_match('/[\r\n]/', $token)) {
                    throw new CredentialsError('the container authorization token contains a line break');
                }
                $headers[] = 'Authorization: ' . $token;
            }
            return self::fromJson(self::http('GET', $full, $headers), 'the container credentials endpoint');
        }
        if (strtolower((string) self::env('AWS_EC2_METADATA_DISABLED')) !== 'true') {
            return self::fromImds();
        }
        throw new CredentialsError('no AWS credentials: set the task role (ECS), AWS_CONTAINER_CREDENTIALS_FULL_URI, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY');
    }

    /** The SDKs accept plain http only for loopback and the ECS/EKS link-local endpoints. */
    private static function checkFullUri(string $uri): void
    {
        $parts = parse_url($uri);
        $scheme = strtolower((string) ($parts['scheme'] ?? ''));
        $host = strtolower(trim((string) ($parts['host'] ?? ''), '[]'));
        if ($scheme === 'https' && $host !== '') {
            return;
        }
        $allowed = ['169.254.170.2', '169.254.170.23', 'fd00:ec2::23', 'localhost', '::1'];
        if ($scheme === 'http' && (in_array($host, $allowed, true) || str_starts_with($host, '127.'))) {
            return;
        }
        throw new CredentialsError('AWS_CONTAINER_CREDENTIALS_FULL_URI must be https, or http on a loopback or container-endpoint address');
    }

    private static function fromImds(): AwsCredentials
    {
        $base = rtrim(self::env('AWS_EC2_METADATA_SERVICE_ENDPOINT') ?? 'http://169.254.169.254', '/');
        $token = self::http('PUT', $base . '/latest/api/token', ['X-aws-ec2-metadata-token-ttl-seconds: 21600']);
        $auth = ['X-aws-ec2-metadata-token: ' . trim($token)];
        $roles = trim(self::http('GET', $base . '/latest/meta-data/iam/security-credentials/', $auth));
        $role = trim(explode("\n", $roles)[0]);
        if ($role === '') {
            throw new CredentialsError('the instance has no IAM role');
        }
        return self::fromJson(self::http('GET', $base . '/latest/meta-data/iam/security-credentials/' . rawurlencode($role), $auth), 'instance metadata');
    }

    private static function fromJson(string $body, string $source): AwsCredentials
    {
        $j = json_decode($body, true);
        if (!is_array($j) || !is_string($j['AccessKeyId'] ?? null) || !is_string($j['SecretAccessKey'] ?? null)) {
            throw new CredentialsError("unexpected answer from $source");
        }
        $expires = null;
        if (is_string($j['Expiration'] ?? null)) {
            $t = strtotime($j['Expiration']);
            $expires = $t === false ? null : $t;
        }
        $token = $j['Token'] ?? ($j['SessionToken'] ?? null);
        return new AwsCredentials($j['AccessKeyId'], $j['SecretAccessKey'], is_string($token) && $token !== '' ? $token : null, $expires);
    }

    /** @param list<string> $headers */
    private static function http(string $method, string $url, array $headers): string
    {
        $ctx = stream_context_create(['http' => [
            'method' => $method,
            'protocol_version' => 1.1,
            'header' => implode("\r\n", [...$headers, 'Connection: close']),
            'timeout' => self::TIMEOUT_SECONDS,
            'ignore_errors' => true,
            'follow_location' => 0,
        ]]);
        $lastError = 'no answer';
        for ($attempt = 0; $attempt < 2; $attempt++) {
            $body = @file_get_contents($url, false, $ctx);
            $responseHeaders = function_exists('http_get_last_response_headers')
                ? (http_get_last_response_headers() ?? [])
                : ($http_response_header ?? []);
            $status = 0;
            if (isset($responseHeaders[0]) && preg_match('#^HTTP/\S+\s+(\d{3})#', $responseHeaders[0], $m)) {
                $status = (int) $m[1];
            }
            if ($body !== false && $status >= 200 && $status < 300) {
                return $body;
            }
            $lastError = $status > 0 ? "HTTP $status" : 'no answer';
        }
        // The URL may carry a credentials id: name only the host.
        $host = parse_url($url, PHP_URL_HOST);
        throw new CredentialsError("credentials request to $host failed ($lastError)");
    }
}

/**
 * RDS IAM authentication tokens: a SigV4 query-signed GET of
 * https://<host>:<port>/?Action=connect&DBUser=<user> for service `rds-db`, valid 15
 * minutes, returned without the scheme. Same output as the SDKs' generate_db_auth_token.
 */
final class RdsIamToken
{
    public const EXPIRES_SECONDS = 900;

    public static function generate(
        string $host,
        int $port,
        string $user,
        string $region,
        AwsCredentials $creds,
        ?int $now = null,
    ): string {
        $now ??= time();
        $amzDate = gmdate('Ymd\THis\Z', $now);
        $day = gmdate('Ymd', $now);
        $scope = "$day/$region/rds-db/aws4_request";
        $query = [
            'Action' => 'connect',
            'DBUser' => $user,
            'X-Amz-Algorithm' => 'AWS4-HMAC-SHA256',
            'X-Amz-Credential' => $creds->accessKeyId . '/' . $scope,
            'X-Amz-Date' => $amzDate,
            'X-Amz-Expires' => (string) self::EXPIRES_SECONDS,
            'X-Amz-SignedHeaders' => 'host',
        ];
        if ($creds->sessionToken !== null) {
            $query['X-Amz-Security-Token'] = $creds->sessionToken;
        }
        $encode = function (array $params): string {
            $pairs = [];
            foreach ($params as $k => $v) {
                $pairs[] = rawurlencode($k) . '=' . rawurlencode($v);
            }
            return implode('&', $pairs);
        };
        // The signature covers the parameters sorted by name; the token lists them in the
        // order the SDKs do (session token last), so both are byte for byte the same.
        $sorted = $query;
        ksort($sorted, SORT_STRING);
        $canonicalQuery = $encode($sorted);
        $hostHeader = $host . ':' . $port;
        $canonicalRequest = implode("\n", [
            'GET',
            '/',
            $canonicalQuery,
            'host:' . $hostHeader,
            '',
            'host',
            hash('sha256', ''),
        ]);
        $stringToSign = implode("\n", [
            'AWS4-HMAC-SHA256',
            $amzDate,
            $scope,
            hash('sha256', $canonicalRequest),
        ]);
        $key = hash_hmac('sha256', $day, 'AWS4' . $creds->secretAccessKey, true);
        $key = hash_hmac('sha256', $region, $key, true);
        $key = hash_hmac('sha256', 'rds-db', $key, true);
        $key = hash_hmac('sha256', 'aws4_request', $key, true);
        $signature = hash_hmac('sha256', $stringToSign, $key);
        return $hostHeader . '/?' . $encode($query) . '&X-Amz-Signature=' . $signature;
    }
}

/**
 * The password database.php gives REDCap in IAM mode: a fresh token for this connection.
 * Never throws (database.php runs inside REDCap's connection code): on failure it logs
 * why, without secrets, and returns '' so REDCap reports that it cannot connect.
 */
function rds_iam_password(string $host, int $port, string $user, string $region): string
{
    try {
        return RdsIamToken::generate($host, $port, $user, $region, CredentialProvider::get());
    } catch (\Throwable $e) {
        error_log('redcap: cannot create an RDS IAM token for ' . $host . ': ' . $e->getMessage());
        return '';
    }
}
