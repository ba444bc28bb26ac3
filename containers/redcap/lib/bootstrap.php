<?php

declare(strict_types=1);

// What the entrypoint does to the database at start, under an advisory lock so that tasks
// starting together take turns:
//   1. the database and REDCap's own MySQL user (IAM or password), idempotently;
//   2. REDCap's headless install, on an EMPTY database only (a database that holds other
//      tables is never touched), then the first administrator;
//   3. REDCap's own upgrade when the database is older than the image (seed issue 55:
//      the upgrade was a manual step people forgot);
//   4. read-replica mode on exactly when a reader endpoint is configured;
//   5. the environment's settings, only when they changed since the last start (their
//      hash is kept in redcap_config).
// Nothing here prints a secret: messages name fields and variables, never values.

namespace RedcapImage;

final class Bootstrap
{
    public const LOCK_PREFIX = 'redcap-image:';
    private const ADMIN_PRIVILEGES = [
        'super_user', 'account_manager', 'access_system_config', 'access_system_upgrade',
        'access_external_module_install', 'admin_rights', 'access_admin_dashboards',
    ];

    /** @var callable(string):void */
    private $log;

    public function __construct(
        private readonly Paths $paths,
        private readonly DbConfig $db,
        private readonly MasterCredentials $master,
        private readonly Salt $salt,
        private readonly Settings $settings,
        private readonly ?string $adminPassword,
        private readonly string $version,
        private readonly bool $autoUpgrade,
        private readonly int $lockTimeout,
        callable $log,
    ) {
        $this->log = $log;
    }

    /**
     * The statements that create or correct REDCap's database user (idempotent).
     *
     * @return list<string>
     */
    public static function userStatements(DbConfig $db, Salt $salt): array
    {
        $user = "'" . $db->appUser . "'@'%'";
        if ($db->iamAuth) {
            $auth = "IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS'";
        } else {
            // The mysql_native_password hash, so the password itself never travels in SQL;
            // the same syntax works on MySQL 8 (Aurora MySQL 3) and MariaDB.
            $hash = '*' . strtoupper(sha1(sha1($salt->appDbPassword(), true)));
            $auth = "IDENTIFIED WITH mysql_native_password AS '$hash'";
        }
        return [
            "CREATE USER IF NOT EXISTS $user $auth",
            "ALTER USER $user $auth",
            'GRANT ALL PRIVILEGES ON ' . Database::ident($db->name) . ".* TO $user",
            // REDCap's replica lag check reads the replication status.
            "GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO $user",
        ];
    }

    public function run(): void
    {
        $d = Database::connect($this->db, $this->master, $this->log);
        $lock = self::LOCK_PREFIX . $this->db->name;
        ($this->log)('waiting for the start-up lock');
        $d->lock($lock, $this->lockTimeout);
        try {
            $this->ensureDatabase($d);
            $this->ensureUser($d);
            $installed = $this->installedVersion($d);
            if ($installed === null) {
                $this->install($d);
            } elseif (version_compare($installed, $this->version, '<')) {
                $this->upgrade($d, $installed);
            } elseif (version_compare($installed, $this->version, '>')) {
                throw new \RuntimeException("the database holds REDCap $installed, newer than this image's {$this->version}: REDCap cannot be downgraded; deploy an image of $installed or later");
            } else {
                ($this->log)("REDCap {$this->version} is installed; no install or upgrade needed");
            }
            $this->readReplica($d);
            $this->applySettings($d);
        } finally {
            // Closing the connection releases the lock too; an error here must not hide
            // the one that got us here.
            try {
                $d->unlock($lock);
                $d->conn->close();
            } catch (\Throwable) {
            }
        }
    }

    private function t(string $table): string
    {
        return Database::ident($this->db->name) . '.' . Database::ident($table);
    }

    private function ensureDatabase(Database $d): void
    {
        $exists = $d->value('SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = ?', [$this->db->name]);
        if ((int) $exists === 0) {
            $d->exec('CREATE DATABASE IF NOT EXISTS ' . Database::ident($this->db->name) . ' CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci');
            ($this->log)("created database {$this->db->name}");
        }
    }

    private function ensureUser(Database $d): void
    {
        foreach (self::userStatements($this->db, $this->salt) as $sql) {
            $d->exec($sql);
        }
        ($this->log)("database user {$this->db->appUser} ready (" . ($this->db->iamAuth ? 'IAM authentication' : 'password authentication') . ')');
    }

    /** null: empty database. Throws when the database holds tables but no REDCap. */
    private function installedVersion(Database $d): ?string
    {
        $tables = (int) $d->value('SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = ?', [$this->db->name]);
        if ($tables === 0) {
            return null;
        }
        $config = (int) $d->value('SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?', [$this->db->name, 'redcap_config']);
        if ($config === 0) {
            throw new \RuntimeException("database {$this->db->name} holds $tables tables but no REDCap installation (no redcap_config): refusing to install into it");
        }
        $v = $d->value('SELECT value FROM ' . $this->t('redcap_config') . ' WHERE field_name = ?', ['redcap_version']);
        if (!is_string($v) || !preg_match(Check::VERSION, $v)) {
            throw new \RuntimeException("database {$this->db->name} holds a REDCap installation without a readable redcap_version (a failed install?); fix or restore it by hand");
        }
        return $v;
    }

    private function install(Database $d): void
    {
        if ($this->adminPassword === null) {
            throw new ConfigError('REDCAP_SITE_ADMIN_PASSWORD is required to install REDCap (the first administrator\'s temporary password)');
        }
        ($this->log)("empty database: installing REDCap {$this->version}");
        $this->runRedcapPage('install');
        $after = $this->installedVersion($d);
        if ($after !== $this->version) {
            throw new \RuntimeException('REDCap\'s install did not complete (redcap_version is ' . ($after ?? 'missing') . ')');
        }
        $this->createAdmin($d);
        ($this->log)("installed REDCap {$this->version}");
    }

    private function upgrade(Database $d, string $from): void
    {
        if (!$this->autoUpgrade) {
            ($this->log)("WARNING: the database holds REDCap $from and this image {$this->version}; REDCAP_AUTO_UPGRADE=false, so REDCap shows its upgrade page until the upgrade is run");
            return;
        }
        ($this->log)("upgrading REDCap's database from $from to {$this->version}");
        $this->runRedcapPage('upgrade');
        $after = $this->installedVersion($d);
        if ($after !== $this->version) {
            throw new \RuntimeException("REDCap's upgrade from $from to {$this->version} did not complete (redcap_version is $after)");
        }
        ($this->log)("upgraded REDCap from $from to {$this->version}");
    }

    /** Runs redcap_v<version>/<page>.php?auto=1 in a PHP child process, as REDCap's own automation does. */
    private function runRedcapPage(string $page): void
    {
        $out = tempnam(sys_get_temp_dir(), 'redcap-' . $page . '-');
        $cmd = [PHP_BINARY, $this->paths->lib() . '/run-page.php', $this->paths->webroot, $this->version, $page, $this->baseHost()];
        $proc = proc_open($cmd, [0 => ['file', '/dev/null', 'r'], 1 => ['file', $out, 'w'], 2 => ['file', $out, 'a']], $pipes);
        if (!is_resource($proc)) {
            throw new \RuntimeException("cannot start REDCap's $page.php");
        }
        $code = proc_close($proc);
        $output = (string) file_get_contents($out);
        unlink($out);
        $text = trim(preg_replace('/\s+/', ' ', strip_tags($output)) ?? '');
        ($this->log)("$page.php exited with $code: " . (strlen($text) > 300 ? substr($text, -300) : $text));
        if ($code !== 0) {
            throw new \RuntimeException("REDCap's $page.php failed (exit $code)");
        }
    }

    private function baseHost(): string
    {
        $url = $this->settings->config['redcap_base_url'] ?? '';
        $host = $url !== '' ? parse_url($url, PHP_URL_HOST) : null;
        return is_string($host) && $host !== '' ? $host : 'localhost';
    }

    /** The first administrator, as REDCap's installer creates it: temporary password, all admin rights. */
    private function createAdmin(Database $d): void
    {
        $a = $this->settings->admin;
        $columns = array_column($d->rows(
            'SELECT column_name AS c FROM information_schema.columns WHERE table_schema = ? AND table_name = ?',
            [$this->db->name, 'redcap_user_information'],
        ), 'c');
        $d->transaction(function (Database $d) use ($a, $columns): void {
            // MD5 with legacy_hash=1 is what REDCap's installer writes; REDCap re-hashes it
            // with its current algorithm at the first login, where temp_pwd=1 forces a new password.
            $d->run('INSERT IGNORE INTO ' . $this->t('redcap_auth') . ' (username, password, legacy_hash, temp_pwd) VALUES (?, ?, 1, 1)', [$a['username'], md5((string) $this->adminPassword)]);
            if ((int) $d->value('SELECT COUNT(*) FROM ' . $this->t('redcap_user_information') . ' WHERE username = ?', [$a['username']]) > 0) {
                return;
            }
            $values = ['username' => $a['username'], 'user_email' => $a['email'] ?? '', 'user_firstname' => $a['firstName'] ?? '', 'user_lastname' => $a['lastName'] ?? ''];
            foreach (['allow_create_db' => '1'] + array_fill_keys(self::ADMIN_PRIVILEGES, '1') as $c => $v) {
                if (in_array($c, $columns, true)) {
                    $values[$c] = $v;
                }
            }
            $names = implode(', ', array_map([Database::class, 'ident'], array_keys($values)));
            $now = in_array('user_creation', $columns, true) ? ', user_creation' : '';
            $d->run('INSERT INTO ' . $this->t('redcap_user_information') . " ($names$now) VALUES (" . implode(', ', array_fill(0, count($values), '?')) . ($now !== '' ? ', NOW()' : '') . ')', array_values($values));
        });
        ($this->log)("created the administrator {$a['username']} (temporary password, to be changed at the first login)");
    }

    private function upsert(Database $d, string $field, string $value): void
    {
        $d->run('INSERT INTO ' . $this->t('redcap_config') . ' (field_name, value) VALUES (?, ?) ON DUPLICATE KEY UPDATE value = ?', [$field, $value, $value]);
    }

    private function readReplica(Database $d): void
    {
        $want = $this->db->readerHost !== null ? '1' : '0';
        $have = $d->value('SELECT value FROM ' . $this->t('redcap_config') . ' WHERE field_name = ?', ['read_replica_enable']);
        if ($have !== $want) {
            $this->upsert($d, 'read_replica_enable', $want);
        }
        ($this->log)('read replica ' . ($want === '1' ? 'enabled' : 'disabled') . ($have === $want ? ' (unchanged)' : ''));
    }

    private function applySettings(Database $d): void
    {
        foreach ($this->settings->warnings as $w) {
            ($this->log)("WARNING: $w");
        }
        $lang = $this->settings->config['language_global'] ?? 'English';
        if ($lang !== 'English' && !is_file($this->paths->webroot . '/languages/' . $lang . '.ini')) {
            ($this->log)("WARNING: language_global is $lang but languages/$lang.ini is not in the image");
        }
        $hash = $this->settings->hash();
        $stored = $d->value('SELECT value FROM ' . $this->t('redcap_config') . ' WHERE field_name = ?', [Settings::HASH_FIELD]);
        if ($stored === $hash) {
            ($this->log)('settings unchanged since they were last applied; nothing written');
            return;
        }
        $d->transaction(function (Database $d) use ($hash): void {
            foreach ($this->settings->config as $field => $value) {
                $this->upsert($d, $field, $value);
            }
            $a = $this->settings->admin;
            $set = [];
            foreach (['firstName' => 'user_firstname', 'lastName' => 'user_lastname', 'email' => 'user_email'] as $k => $c) {
                if ($a[$k] !== null) {
                    $set[$c] = $a[$k];
                }
            }
            if ($set !== []) {
                $d->run('UPDATE ' . $this->t('redcap_user_information') . ' SET ' . implode(', ', array_map(fn ($c) => Database::ident($c) . ' = ?', array_keys($set))) . ' WHERE username = ?', [...array_values($set), $a['username']]);
            }
            $this->upsert($d, Settings::HASH_FIELD, $hash);
        });
        ($this->log)('applied settings: ' . implode(', ', array_keys($this->settings->config)) . ($stored === null ? ' (first time)' : ' (changed)'));
    }
}
