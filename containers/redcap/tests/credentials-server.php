<?php
// Router for `php -S`: a container credentials endpoint (what ECS and EKS Pod Identity
// serve) for the IAM tests. GET /v1/credentials with the right Authorization header
// answers temporary credentials; every request is appended to $CREDS_LOG.
file_put_contents((string) getenv('CREDS_LOG'), $_SERVER['REQUEST_METHOD'] . ' ' . $_SERVER['REQUEST_URI'] . "\n", FILE_APPEND);
header('Content-Type: application/json');
if ($_SERVER['REQUEST_URI'] !== '/v1/credentials' || ($_SERVER['HTTP_AUTHORIZATION'] ?? '') !== 'test-authorization-token') {
    http_response_code(401);
    echo '{"message":"denied"}';
    return true;
}
echo json_encode([
    'AccessKeyId' => 'ASIACONTAINERKEY',
    'SecretAccessKey' => 'container/secret+key',
    'Token' => 'container-session-token',
    'Expiration' => gmdate('Y-m-d\TH:i:s\Z', time() + 3600),
]);
return true;
