-- One database per service: no service reads another's.
CREATE DATABASE identity;
CREATE DATABASE mailer;
CREATE DATABASE catalogue;
CREATE DATABASE newsletter;
