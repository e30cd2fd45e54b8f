//! scriptor import (in progress)
