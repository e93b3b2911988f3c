-- Sample schema for docker-compose.yml's mysql service: run once by the mysql image's entrypoint on an empty data
-- directory (files in /docker-entrypoint-initdb.d/ run against MYSQL_DATABASE, here "inventory").
-- The cdc user gets the privileges Debezium's MySQL connector documents (docs/mysql.md).
CREATE USER IF NOT EXISTS 'cdc'@'%' IDENTIFIED BY 'cdc';
GRANT SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, REPLICATION CLIENT, LOCK TABLES ON *.* TO 'cdc'@'%';

CREATE TABLE customers (
    id         INT AUTO_INCREMENT PRIMARY KEY,
    first_name VARCHAR(255) NOT NULL,
    last_name  VARCHAR(255) NOT NULL,
    email      VARCHAR(255) NOT NULL UNIQUE
) AUTO_INCREMENT = 1001;

CREATE TABLE products (
    id          INT AUTO_INCREMENT PRIMARY KEY,
    name        VARCHAR(255) NOT NULL,
    description VARCHAR(512),
    price       DECIMAL(10, 2) NOT NULL
) AUTO_INCREMENT = 101;

CREATE TABLE orders (
    id         INT AUTO_INCREMENT PRIMARY KEY,
    order_date DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    purchaser  INT NOT NULL,
    product_id INT NOT NULL,
    quantity   INT NOT NULL,
    FOREIGN KEY (purchaser) REFERENCES customers (id),
    FOREIGN KEY (product_id) REFERENCES products (id)
) AUTO_INCREMENT = 10001;

INSERT INTO customers (first_name, last_name, email) VALUES
    ('Sally', 'Thomas', 'sally.thomas@acme.com'),
    ('George', 'Bailey', 'gbailey@foobar.com'),
    ('Edward', 'Walker', 'ed@walker.com');
INSERT INTO products (name, description, price) VALUES
    ('scooter', 'Small 2-wheel scooter', 89.99),
    ('car battery', '12V car battery', 129.50),
    ('hammer', '12oz carpenter''s hammer', 14.25);
INSERT INTO orders (order_date, purchaser, product_id, quantity) VALUES
    ('2024-01-16 09:30:00', 1001, 102, 1),
    ('2024-01-17 14:05:30.250', 1002, 101, 2);
