<?php
// php include-database-php.php <database.php> <times>: includes a database.php <times>
// times the way REDCap does (once per connection) and prints the passwords it produced,
// one JSON object per line.
$file = $argv[1];
for ($i = 0; $i < (int) $argv[2]; $i++) {
    $vars = (static function () use ($file): array {
        include $file;
        return get_defined_vars();
    })();
    echo json_encode(['password' => $vars['password'] ?? null, 'read_replica_password' => $vars['read_replica_password'] ?? null]), "\n";
}
