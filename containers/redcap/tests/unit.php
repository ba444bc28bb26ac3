<?php

declare(strict_types=1);

// Unit tests of the image's PHP helpers (no database): settings parsing, database.php
// rendering in both authentication modes with and without the read replica, msmtp
// configuration, the database user statements, the IAM credential chain.
//   php tests/unit.php            prints "unit: N passed, N failed", exit 1 on any failure

namespace RedcapImage;

require_once __DIR__ . '/../lib/cli.php';

$tests = [];
function test(string $name, callable $fn): void
{
    $GLOBALS['tests'][$name] = $fn;
}

function eq(mixed $actual, mixed $expected, string $what = 'value'): void
{
    if ($actual !== $expected) {
        throw new \RuntimeException("$what: expected " . var_export($expected, true) . ', got ' . var_export($actual, true));
    }
}

function ok(bool $cond, string $what): void
{
    if (!$cond) {
        throw new \RuntimeException($what);
    }
}

function throws(callable $fn, string $contains): string
{
    try {
        $fn();
    } catch (\Throwable $e) {
        if (!str_contains($e->getMessage(), $contains)) {
            throw new \RuntimeException("expected an error containing '$contains', got: " . $e->getMessage());
        }
        return $e->getMessage();
    }
    throw new \RuntimeException("expected an error containing '$contains', got none");
}

function db(bool $iam, ?string $reader = null): DbConfig
{
    return new DbConfig('writer.cluster-abc.eu-west-1.rds.amazonaws.com', 3306, 'redcap', 'redcap_user', $iam, $reader, 'eu-west-1', '/usr/local/share/redcap/rds-global-bundle.pem', 5);
}

/** Includes a rendered database.php the way REDCap does and returns the variables it set. */
function load_database_php(string $source): array
{
    $f = tempnam(sys_get_temp_dir(), 'dbphp');
    file_put_contents($f, $source);
    try {
        return (static function () use ($f): array {
            include $f;
            $vars = get_defined_vars();
            unset($vars['f']);
            return $vars;
        })();
    } finally {
        unlink($f);
    }
}

function with_env(array $vars, callable $fn): mixed
{
    $old = [];
    foreach ($vars as $k => $v) {
        $old[$k] = getenv($k);
        putenv($v === null ? $k : "$k=$v");
    }
    try {
        return $fn();
    } finally {
        foreach ($old as $k => $v) {
            putenv($v === false ? $k : "$k=$v");
        }
    }
}

$salt = new Salt('a-test-salt-of-some-length');
$lib = realpath(__DIR__ . '/../lib');

test('salt: REDCap gets sha256 of the secret, as the seed did', function () use ($salt): void {
    eq($salt->forRedcap(), hash('sha256', 'a-test-salt-of-some-length'));
    eq(strlen($salt->appDbPassword()), 64, 'derived password length');
    ok($salt->appDbPassword() !== $salt->forRedcap(), 'the database password is not the salt hash');
});

test('database.php, password mode, no replica: TLS verified, no replica variables', function () use ($salt, $lib): void {
    $src = Render::databasePhp(db(false), $salt, $lib);
    $v = load_database_php($src);
    eq($v['hostname'], 'writer.cluster-abc.eu-west-1.rds.amazonaws.com:3306', 'hostname');
    eq($v['db'], 'redcap', 'db');
    eq($v['username'], 'redcap_user', 'username');
    eq($v['password'], $salt->appDbPassword(), 'password');
    eq($v['db_ssl_ca'], '/usr/local/share/redcap/rds-global-bundle.pem', 'db_ssl_ca');
    eq($v['db_ssl_verify_server_cert'], true, 'db_ssl_verify_server_cert');
    eq($v['salt'], $salt->forRedcap(), 'salt');
    ok(!array_key_exists('read_replica_hostname', $v) && !array_key_exists('read_replica_username', $v), 'no replica variables');
    ok(!str_contains($src, 'aws.php'), 'password mode does not load the token generator');
});

test('database.php, password mode, replica: reader with its own TLS settings', function () use ($salt, $lib): void {
    $v = load_database_php(Render::databasePhp(db(false, 'reader.cluster-ro-abc.eu-west-1.rds.amazonaws.com'), $salt, $lib));
    eq($v['read_replica_hostname'], 'reader.cluster-ro-abc.eu-west-1.rds.amazonaws.com:3306', 'replica host');
    eq($v['read_replica_db'], 'redcap', 'replica db');
    eq($v['read_replica_username'], 'redcap_user', 'replica user');
    eq($v['read_replica_password'], $salt->appDbPassword(), 'replica password');
    eq($v['read_replica_db_ssl_ca'], '/usr/local/share/redcap/rds-global-bundle.pem', 'replica CA');
    eq($v['read_replica_db_ssl_verify_server_cert'], true, 'replica verification');
});

test('database.php, IAM mode: a token per include, for the host it is used with', function () use ($salt, $lib): void {
    $src = Render::databasePhp(db(true, 'reader.cluster-ro-abc.eu-west-1.rds.amazonaws.com'), $salt, $lib);
    ok(!str_contains($src, $salt->appDbPassword()), 'IAM mode has no static password');
    $v = with_env(['AWS_ACCESS_KEY_ID' => 'ASIATESTKEY', 'AWS_SECRET_ACCESS_KEY' => 'secret/key', 'AWS_SESSION_TOKEN' => 'session+token='], function () use ($src): array {
        CredentialProvider::reset();
        return load_database_php($src);
    });
    CredentialProvider::reset();
    foreach (['password' => 'writer.cluster-abc', 'read_replica_password' => 'reader.cluster-ro-abc'] as $var => $host) {
        $token = $v[$var];
        ok(str_starts_with($token, "$host.eu-west-1.rds.amazonaws.com:3306/?Action=connect&DBUser=redcap_user&"), "$var is a token for $host: $token");
        ok(str_contains($token, 'X-Amz-Credential=ASIATESTKEY%2F'), "$var is signed with the environment's key");
        ok(str_contains($token, 'X-Amz-Security-Token=session%2Btoken%3D'), "$var carries the session token");
        parse_str(substr($token, strpos($token, '?') + 1), $q);
        $t = \DateTimeImmutable::createFromFormat('Ymd\THis\Z', $q['X-Amz-Date'], new \DateTimeZone('UTC'));
        $expected = RdsIamToken::generate("$host.eu-west-1.rds.amazonaws.com", 3306, 'redcap_user', 'eu-west-1', new AwsCredentials('ASIATESTKEY', 'secret/key', 'session+token='), $t->getTimestamp());
        eq($token, $expected, "$var signature");
    }
    eq($v['db_ssl_verify_server_cert'], true, 'TLS verification');
    eq($v['read_replica_db_ssl_verify_server_cert'], true, 'replica TLS verification');
});

test('database.php, IAM mode without credentials: empty password, reason logged, no exception', function () use ($salt, $lib): void {
    $src = Render::databasePhp(db(true), $salt, $lib);
    $log = tempnam(sys_get_temp_dir(), 'log');
    $old = ini_set('error_log', $log);
    try {
        $v = with_env(['AWS_ACCESS_KEY_ID' => null, 'AWS_SECRET_ACCESS_KEY' => null, 'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI' => null, 'AWS_CONTAINER_CREDENTIALS_FULL_URI' => null, 'AWS_EC2_METADATA_DISABLED' => 'true'], function () use ($src): array {
            CredentialProvider::reset();
            return load_database_php($src);
        });
    } finally {
        ini_set('error_log', $old === false ? '' : $old);
    }
    eq($v['password'], '', 'password');
    ok(str_contains((string) file_get_contents($log), 'cannot create an RDS IAM token'), 'the failure is logged');
    unlink($log);
});

test('database.php: values are PHP literals, whatever they hold', function () use ($lib): void {
    $s = new Salt("it's a \"salt\" with \\ and \$dollar and ?> end");
    $v = load_database_php(Render::databasePhp(db(false), $s, $lib));
    eq($v['salt'], $s->forRedcap());
    eq($v['password'], $s->appDbPassword());
});

test('database.php stub reads the runtime directory', function (): void {
    $dir = sys_get_temp_dir() . '/stub-' . getmypid();
    @mkdir($dir);
    file_put_contents("$dir/database.php", "<?php \$db = 'from-runtime';\n");
    $v = with_env(['REDCAP_RUNTIME_DIR' => $dir], fn () => load_database_php(Render::databasePhpStub()));
    eq($v['db'], 'from-runtime');
    unlink("$dir/database.php");
    rmdir($dir);
});

test('database user statements: IAM plugin, or the password hash (never the password)', function () use ($salt): void {
    $iam = Bootstrap::userStatements(db(true), $salt);
    eq($iam[0], "CREATE USER IF NOT EXISTS 'redcap_user'@'%' IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS'");
    eq($iam[1], "ALTER USER 'redcap_user'@'%' IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS'");
    eq($iam[2], "GRANT ALL PRIVILEGES ON `redcap`.* TO 'redcap_user'@'%'");
    eq($iam[3], "GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'redcap_user'@'%'");
    $pw = Bootstrap::userStatements(db(false), $salt);
    $hash = '*' . strtoupper(sha1(sha1($salt->appDbPassword(), true)));
    eq($pw[0], "CREATE USER IF NOT EXISTS 'redcap_user'@'%' IDENTIFIED WITH mysql_native_password AS '$hash'");
    ok(!str_contains(implode("\n", $pw), $salt->appDbPassword()), 'the password is not in the SQL');
});

test('settings: the operator\'s spec.redcap.settings map to redcap_config', function (): void {
    $s = Settings::parse(json_encode([
        'baseUrl' => 'https://redcap.example.org',
        'apiEnabled' => true,
        'autoReportStats' => false,
        'languageGlobal' => 'Japanese',
        'contactEmail' => 'team@example.org',
        'authMethod' => 'OpenIdConnectTable',
        'siteAdmin' => ['username' => 'admin1', 'firstName' => 'Ada', 'email' => 'ada@example.org'],
        'extraConfig' => [['name' => 'homepage_contact', 'value' => 'The team']],
    ]), new StorageConfig('files-bucket', 'eu-west-1', 'AKIAFILES', 'files/secret'));
    eq($s->config, [
        'amazon_s3_bucket' => 'files-bucket',
        'amazon_s3_endpoint' => 'eu-west-1',
        'amazon_s3_key' => 'AKIAFILES',
        'amazon_s3_secret' => 'files/secret',
        'api_enabled' => '1',
        'auth_meth_global' => 'openid_connect_table',
        'auto_report_stats' => '0',
        'edoc_storage_option' => '2',
        'from_email' => 'team@example.org',
        'homepage_contact' => 'The team',
        'homepage_contact_email' => 'team@example.org',
        'language_global' => 'Japanese',
        'project_contact_email' => 'team@example.org',
        'redcap_base_url' => 'https://redcap.example.org/',
    ]);
    eq($s->admin, ['username' => 'admin1', 'firstName' => 'Ada', 'lastName' => null, 'email' => 'ada@example.org']);
    eq($s->warnings, []);
});

test('settings: absent members are not managed; no placeholder base URL', function (): void {
    $s = Settings::parse('{}', null);
    eq($s->config, []);
    eq($s->admin['username'], 'site_admin');
    $s = Settings::parse('{"extraConfig": {"a_b": "1"}, "futureThing": 1}', null);
    eq($s->config, ['a_b' => '1']);
    eq($s->warnings, ['REDCAP_SETTINGS_JSON: unknown member "futureThing" ignored']);
});

test('settings: the hash changes with any value and only then', function (): void {
    $a = Settings::parse('{"apiEnabled": true, "extraConfig": [{"name": "x", "value": "1"}]}', null);
    $b = Settings::parse('{"extraConfig": [{"name": "x", "value": "1"}], "apiEnabled": true}', null);
    $c = Settings::parse('{"apiEnabled": true, "extraConfig": [{"name": "x", "value": "2"}]}', null);
    $d = Settings::parse('{"apiEnabled": true, "extraConfig": [{"name": "x", "value": "1"}], "siteAdmin": {"firstName": "B"}}', null);
    eq($a->hash(), $b->hash(), 'member order does not matter');
    ok($a->hash() !== $c->hash(), 'a value change changes the hash');
    ok($a->hash() !== $d->hash(), 'an administrator change changes the hash');
    $s1 = Settings::parse('{}', new StorageConfig('b', 'eu-west-1', 'AKIA1', 's1'));
    $s2 = Settings::parse('{}', new StorageConfig('b', 'eu-west-1', 'AKIA2', 's2'));
    ok($s1->hash() !== $s2->hash(), 'a rotated storage key changes the hash');
});

test('settings: bad input is refused with the member named', function (): void {
    throws(fn () => Settings::parse('not json', null), 'REDCAP_SETTINGS_JSON is not valid JSON');
    throws(fn () => Settings::parse('[1]', null), 'must be a JSON object');
    throws(fn () => Settings::parse('{"baseUrl": "ftp://x"}', null), 'baseUrl must be an https:// URL');
    throws(fn () => Settings::parse('{"baseUrl": "https://x/?q=1"}', null), 'baseUrl must be an https:// URL');
    throws(fn () => Settings::parse('{"apiEnabled": "yes"}', null), 'apiEnabled must be true or false');
    throws(fn () => Settings::parse('{"authMethod": "Kerberos"}', null), 'authMethod must be one of');
    throws(fn () => Settings::parse('{"contactEmail": "not-an-address"}', null), 'contactEmail must be an e-mail address');
    throws(fn () => Settings::parse('{"languageGlobal": "../../etc/passwd"}', null), 'languageGlobal must be a language name');
    throws(fn () => Settings::parse('{"siteAdmin": {"username": "a b"}}', null), 'siteAdmin.username');
    throws(fn () => Settings::parse('{"siteAdmin": {"firstName": "a\nb"}}', null), 'control character');
    throws(fn () => Settings::parse('{"extraConfig": [{"name": "x\' OR 1=1 --", "value": "1"}]}', null), 'extraConfig names must be');
    throws(fn () => Settings::parse('{"extraConfig": [{"name": "redcap_base_url", "value": "x"}]}', null), 'redcap_base_url is managed');
    throws(fn () => Settings::parse('{"extraConfig": [{"name": "amazon_s3_secret", "value": "x"}]}', null), 'amazon_s3_secret is managed');
    throws(fn () => Settings::parse('{"extraConfig": [{"name": "' . Settings::HASH_FIELD . '", "value": "x"}]}', null), 'is managed');
    throws(fn () => Settings::parse('{"extraConfig": [{"name": "x", "value": 5}]}', null), 'extraConfig[0]');
});

test('settings: auth methods accept the CRD names and REDCap\'s own values', function (): void {
    foreach (Settings::AUTH_METHODS as $crd => $redcap) {
        eq(Settings::parse(json_encode(['authMethod' => $crd]), null)->config['auth_meth_global'], $redcap, $crd);
        eq(Settings::parse(json_encode(['authMethod' => $redcap]), null)->config['auth_meth_global'], $redcap, $redcap);
    }
});

$mail = fn (?string $set = 'redcap-events', string $user = 'AKIASMTP', string $pw = 'smtp/pass+word=') => new MailConfig('email-smtp.eu-west-1.amazonaws.com', 587, $user, $pw, 'noreply@example.org', $set, '/etc/ssl/certs/ca-certificates.crt');

test('msmtprc: SES on 587 with STARTTLS, certificate verification, credentials quoted', function () use ($mail): void {
    $rc = Render::msmtprc($mail());
    foreach (['auth on', 'tls on', 'tls_starttls on', 'tls_trust_file "/etc/ssl/certs/ca-certificates.crt"', 'host "email-smtp.eu-west-1.amazonaws.com"', 'port 587', 'from "noreply@example.org"', 'user "AKIASMTP"', 'password "smtp/pass+word="', 'account default : ses', 'syslog off'] as $line) {
        ok(in_array($line, explode("\n", $rc), true), "msmtprc has the line '$line'");
    }
    ok(!str_contains($rc, 'tls_certcheck off'), 'certificate checks stay on');
    eq(Render::msmtpQuote('a"b\\c'), '"a\\"b\\\\c"');
    throws(fn () => Render::msmtpQuote("x\npassword evil"), 'control character');
});

test('mail headers: the SES configuration set, or nothing', function () use ($mail): void {
    eq(Render::mailHeaders($mail()), "X-SES-CONFIGURATION-SET: redcap-events\n");
    eq(Render::mailHeaders($mail(null)), '');
});

test('mail config from the environment: regional SES host, validation, no value in errors', function (): void {
    $base = ['REDCAP_SMTP_CREDENTIALS' => '{"username":"AKIA1","password":"p"}', 'AWS_REGION' => 'eu-central-1', 'REDCAP_MAIL_FROM' => 'noreply@example.org', 'REDCAP_SMTP_HOST' => null, 'REDCAP_SES_CONFIGURATION_SET' => null, 'REDCAP_TLS_TRUST_FILE' => __FILE__];
    $m = with_env($base, fn () => MailConfig::fromEnv());
    eq($m->host, 'email-smtp.eu-central-1.amazonaws.com');
    eq($m->port, 587);
    eq(with_env(['REDCAP_SMTP_CREDENTIALS' => null], fn () => MailConfig::fromEnv()), null, 'no credentials, no relay');
    $msg = throws(fn () => with_env(['REDCAP_SMTP_CREDENTIALS' => '{"username":"AKIA1","password":"se\ncret-value"}'] + $base, fn () => MailConfig::fromEnv()), 'control character');
    ok(!str_contains($msg, 'cret-value'), 'the error does not show the value');
    throws(fn () => with_env(['REDCAP_SES_CONFIGURATION_SET' => "a\nBcc: x@y"] + $base, fn () => MailConfig::fromEnv()), 'REDCAP_SES_CONFIGURATION_SET must be');
    throws(fn () => with_env(['REDCAP_MAIL_FROM' => null] + $base, fn () => MailConfig::fromEnv()), 'REDCAP_MAIL_FROM is required');
    throws(fn () => with_env(['REDCAP_SMTP_CREDENTIALS' => 'AKIA1:pw'] + $base, fn () => MailConfig::fromEnv()), 'REDCAP_SMTP_CREDENTIALS must be a JSON object');
});

test('database config from the environment: defaults and refusals', function (): void {
    $base = ['REDCAP_DB_HOST' => 'db.example', 'REDCAP_DB_CA_BUNDLE' => __FILE__, 'AWS_REGION' => 'eu-west-1', 'REDCAP_DB_IAM_AUTH' => null, 'REDCAP_DB_PORT' => null, 'REDCAP_DB_NAME' => null, 'REDCAP_DB_USER' => null, 'REDCAP_DB_READER_HOST' => null];
    $d = with_env($base, fn () => DbConfig::fromEnv('/nowhere'));
    eq([$d->port, $d->name, $d->appUser, $d->iamAuth, $d->readerHost], [3306, 'redcap', 'redcap_user', true, null]);
    throws(fn () => with_env(['REDCAP_DB_HOST' => 'db.example; DROP'] + $base, fn () => DbConfig::fromEnv('/nowhere')), 'REDCAP_DB_HOST must be');
    throws(fn () => with_env(['REDCAP_DB_NAME' => 'red`cap'] + $base, fn () => DbConfig::fromEnv('/nowhere')), 'REDCAP_DB_NAME must be');
    throws(fn () => with_env(['REDCAP_DB_USER' => "x'@'%"] + $base, fn () => DbConfig::fromEnv('/nowhere')), 'REDCAP_DB_USER must be');
    throws(fn () => with_env(['AWS_REGION' => null, 'AWS_DEFAULT_REGION' => null] + $base, fn () => DbConfig::fromEnv('/nowhere')), 'AWS_REGION is required');
    throws(fn () => with_env(['REDCAP_DB_IAM_AUTH' => 'maybe'] + $base, fn () => DbConfig::fromEnv('/nowhere')), 'REDCAP_DB_IAM_AUTH must be true or false');
    throws(fn () => with_env(['REDCAP_DB_CA_BUNDLE' => '/nonexistent.pem'] + $base, fn () => DbConfig::fromEnv('/nowhere')), 'does not exist');
    $msg = throws(fn () => with_env(['REDCAP_DB_MASTER_SECRET' => '{"username":"admin"}'], fn () => MasterCredentials::fromEnv()), 'no string member "password"');
    throws(fn () => with_env(['REDCAP_DB_MASTER_SECRET' => 'hunter2'], fn () => MasterCredentials::fromEnv()), 'must be a JSON object');
    ok(!str_contains($msg, 'admin'), 'secret contents are not echoed');
});

test('credentials: a plain-http full URI is only accepted on loopback or the container endpoints', function (): void {
    $env = ['AWS_ACCESS_KEY_ID' => null, 'AWS_SECRET_ACCESS_KEY' => null, 'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI' => null, 'AWS_CONTAINER_CREDENTIALS_FULL_URI' => 'http://example.com/creds'];
    throws(fn () => with_env($env, function () {
        CredentialProvider::reset();
        return CredentialProvider::get();
    }), 'AWS_CONTAINER_CREDENTIALS_FULL_URI must be https');
    CredentialProvider::reset();
});

$passed = 0;
$failed = 0;
foreach ($tests as $name => $fn) {
    try {
        $fn();
        $passed++;
        echo "  ok   $name\n";
    } catch (\Throwable $e) {
        $failed++;
        echo "  FAIL $name\n       " . $e->getMessage() . "\n";
    }
}
echo "unit: $passed passed, $failed failed\n";
exit($failed > 0 ? 1 : 0);
